"""breakerbox.langchain against a live server, with langchain-core's own fake
chat models (and one that fails like an SDK's 503) as the dependencies."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any, Iterator

import pytest
from google.protobuf.duration_pb2 import Duration
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from breakerbox import AsyncBreakerbox, Breakerbox, CircuitOpenError
from breakerbox.langchain import guard_runnable
from breakerbox.v1 import breakerbox_pb2 as pb
from conftest import FAILURE_THRESHOLD, HttpError, stats


class Dependency:
    """The model provider behind FlakyChatModel: down (503) or up, counting the calls it gets."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0


class FlakyChatModel(BaseChatModel):
    """Answers "primary" while its dependency is up, raises a 503 while it is down; streams "pri", "mary"."""

    dependency: Any

    @property
    def _llm_type(self) -> str:
        return "flaky-fake"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.dependency.calls += 1
        if self.dependency.down:
            raise HttpError(503)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="primary"))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.dependency.calls += 1
        yield ChatGenerationChunk(message=AIMessageChunk(content="pri"))
        if self.dependency.down:
            raise HttpError(503)
        yield ChatGenerationChunk(message=AIMessageChunk(content="mary"))


def backup() -> FakeListChatModel:
    return FakeListChatModel(responses=["backup"])


def recovering(admin: Any, circuit: str) -> None:
    """Opens for 1 s instead of the suite's 60, and closes after two successful probes."""
    config = pb.CircuitConfig(open_duration=Duration(seconds=1), success_threshold=2, half_open_max_calls=1)
    admin.Configure(pb.ConfigureRequest(circuit=circuit, config=config), timeout=5)


def test_a_guarded_chat_model_trips_answers_from_the_fallback_while_open_and_recovers(address: str, admin: Any, circuit: str) -> None:
    recovering(admin, circuit)
    dependency = Dependency()
    with Breakerbox(address) as bb:
        model = guard_runnable(bb, circuit, FlakyChatModel(dependency=dependency), fallback=backup())
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(HttpError):
                model.invoke("hello")
        bb.flush()
        assert stats(admin, circuit)[0] == "OPEN"
        # OPEN: the fallback model answers; the failing one is not called.
        assert model.invoke("hello").content == "backup"
        assert dependency.calls == FAILURE_THRESHOLD
        dependency.down = False
        # Once open_duration has passed a probe reaches the healed model; until then the fallback answers.
        deadline = time.monotonic() + 15
        while (answer := model.invoke("hello").content) != "primary":
            assert answer == "backup" and time.monotonic() < deadline
            time.sleep(0.1)
        bb.flush()
        assert stats(admin, circuit)[0] == "HALF_OPEN"
        assert model.invoke("hello").content == "primary"
        bb.flush()
    state, counts = stats(admin, circuit)
    assert (state, counts["successes"], counts["failures"]) == ("CLOSED", 2, FAILURE_THRESHOLD)
    assert dependency.calls == FAILURE_THRESHOLD + 2


def test_without_a_fallback_it_raises_circuit_open_error_for_with_fallbacks(address: str, admin: Any, circuit: str) -> None:
    dependency = Dependency()
    with Breakerbox(address) as bb:
        guarded = guard_runnable(bb, circuit, FlakyChatModel(dependency=dependency))
        chain = guarded.with_fallbacks([backup()], exceptions_to_handle=(CircuitOpenError,))
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(HttpError):  # the dependency's own errors are not the fallback's business
                chain.invoke("hello")
        bb.flush()
        with pytest.raises(CircuitOpenError):
            guarded.invoke("hello")
        assert chain.invoke("hello").content == "backup"
        assert [m.content for m in chain.batch(["a", "b"])] == ["backup", "backup"]
    assert dependency.calls == FAILURE_THRESHOLD


def test_a_stream_is_reported_when_it_ends_or_fails(address: str, admin: Any, circuit: str) -> None:
    dependency = Dependency()
    dependency.down = False
    with Breakerbox(address) as bb:
        model = guard_runnable(bb, circuit, GenericFakeChatModel(messages=iter([AIMessage(content="hello streaming world")])))
        chunks = model.stream("hi")
        assert next(chunks).content == "hello"
        bb.flush()
        assert stats(admin, circuit)[1]["successes"] == 0  # not reported at its start
        assert "".join(str(c.content) for c in chunks) == " streaming world"
        bb.flush()
        assert stats(admin, circuit)[1]["successes"] == 1
        flaky = guard_runnable(bb, circuit, FlakyChatModel(dependency=dependency))
        assert [c.content for c in flaky.stream("hi") if c.content] == ["pri", "mary"]
        dependency.down = True
        received: list[Any] = []
        with pytest.raises(HttpError):
            for c in flaky.stream("hi"):
                received.append(c.content)
        assert received == ["pri"]
    assert stats(admin, circuit)[1] == {"successes": 2, "failures": 1, "timeouts": 0, "ignored": 0, "rejections": 0}


async def test_async_client_guards_ainvoke_and_astream(address: str, admin: Any, circuit: str) -> None:
    dependency = Dependency()
    async with AsyncBreakerbox(address) as bb:
        model = guard_runnable(bb, circuit, FlakyChatModel(dependency=dependency), fallback=backup())
        with pytest.raises(HttpError):
            async for _ in model.astream("hello"):
                pass
        for _ in range(FAILURE_THRESHOLD - 1):
            with pytest.raises(HttpError):
                await model.ainvoke("hello")
        await bb.flush()
        assert (await model.ainvoke("hello")).content == "backup"
        assert [c.content async for c in model.astream("hello")] == ["b", "a", "c", "k", "u", "p"]  # FakeListChatModel streams by character
        with pytest.raises(TypeError, match="ainvoke"):
            model.invoke("hello")
    assert dependency.calls == FAILURE_THRESHOLD
    assert stats(admin, circuit)[1]["failures"] == FAILURE_THRESHOLD


async def test_a_sync_client_serves_ainvoke_and_astream_from_an_executor(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as bb:
        model = guard_runnable(bb, circuit, GenericFakeChatModel(messages=iter([AIMessage(content="one"), AIMessage(content="two three")])))
        assert (await model.ainvoke("hi")).content == "one"
        assert [c.content async for c in model.astream("hi")] == ["two", " ", "three"]
    assert stats(admin, circuit)[1]["successes"] == 2


def test_the_core_package_does_not_import_langchain() -> None:
    code = "import sys, breakerbox; print(sorted(m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "[]\n"
