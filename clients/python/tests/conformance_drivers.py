"""The two clients under a conformance scenario, behind one interface the
player drives: `SyncDriver` (Breakerbox, called from the player's thread) and
`AsyncDriver` (AsyncBreakerbox, on an event loop of its own thread, so its
report task and watch keep running while the player sleeps or checks).

The scenario's functions (`ok`, `fail`, `http_503`, ...) are made here, as
plain functions for the sync client and `async def` ones for the async client."""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator, Mapping

from breakerbox import AsyncBreakerbox, Breakerbox, CircuitOpenError
from conformance_harness import Harness

FALLBACK = "fallback value"
#: How long a `flush` step may wait for the queue to drain.
FLUSH_TIMEOUT = 30.0


class ApiResponse:
    """The response an LLM SDK's error carries (like an httpx.Response)."""

    def __init__(self, status_code: int, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.headers = dict(headers)


class APIStatusError(Exception):
    """An SDK's HTTP error, shaped like openai's and anthropic's: `status_code`
    and `response.headers`, recognised by classify_exception without an SDK."""

    def __init__(self, status_code: int, headers: Mapping[str, str]) -> None:
        super().__init__(f"Error code: {status_code}")
        self.status_code = status_code
        self.response = ApiResponse(status_code, headers)


@dataclass
class Outcome:
    """What a guarded call or stream gave back, and what its function did."""

    value: Any = None
    items: list[str] = field(default_factory=list)
    error: BaseException | None = None
    ran: bool = False
    raised: BaseException | None = None  # the function's own error, to compare by identity
    fallback_got: CircuitOpenError | None = None


def _raise_for(name: str, headers: Mapping[str, str]) -> BaseException | None:
    if name == "fail":
        return RuntimeError("conformance: the dependency failed")
    if name.startswith("http_"):
        return APIStatusError(int(name.removeprefix("http_")), headers)
    if name in ("ok", "ok_then_blackhole"):
        return None
    raise ValueError(f"unknown call function {name!r}")


def _check_stream_name(name: str) -> None:
    if name not in ("ok", "fail_midway"):
        raise ValueError(f"unknown stream function {name!r}")


class SyncDriver:
    def __init__(self, harness: Harness, circuit: str, options: dict[str, Any]) -> None:
        self._harness, self._circuit = harness, circuit
        self.client = Breakerbox(harness.address, **options)
        self._watch: Any = None
        self._watch_thread: threading.Thread | None = None
        self.events: queue.Queue[Any] = queue.Queue()

    def call(self, name: str, headers: Mapping[str, str], fallback: bool) -> Outcome:
        out = Outcome()

        def fn() -> str:
            out.ran = True
            out.raised = _raise_for(name, headers)
            if out.raised is not None:
                raise out.raised
            if name == "ok_then_blackhole":
                self._harness.command("blackhole")
            return "ok"

        def fb(err: CircuitOpenError) -> str:
            out.fallback_got = err
            return FALLBACK

        try:
            out.value = self.client.run(self._circuit, fn, fallback=fb if fallback else None)
        except BaseException as err:
            out.error = err
        return out

    def stream(self, name: str, fallback: bool) -> Outcome:
        _check_stream_name(name)
        out = Outcome()

        def chunks() -> Iterator[str]:
            out.ran = True
            yield "a"
            yield "b"
            if name == "fail_midway":
                out.raised = RuntimeError("conformance: the stream broke")
                raise out.raised

        def fb(err: CircuitOpenError) -> list[str]:
            out.fallback_got = err
            return [FALLBACK]

        try:
            for item in self.client.run_stream(self._circuit, chunks, fallback=fb if fallback else None):
                out.items.append(item)
        except BaseException as err:
            out.error = err
        return out

    def flush(self) -> bool:
        return self.client.flush(FLUSH_TIMEOUT)

    def watch_start(self) -> None:
        self._watch = self.client.watch([self._circuit])

        def pump() -> None:
            try:
                for message in self._watch:
                    self.events.put(message)
            except BaseException as err:  # handed to the player's next watch_expect
                self.events.put(err)

        self._watch_thread = threading.Thread(target=pump, name="conformance-watch", daemon=True)
        self._watch_thread.start()

    def watch_stop(self) -> None:
        if self._watch is not None:
            self._watch.close()
            assert self._watch_thread is not None
            self._watch_thread.join(10)
            assert not self._watch_thread.is_alive(), "the watch did not end after close()"
            self._watch = None

    def close(self) -> None:
        self.watch_stop()
        self.client.close()


class AsyncDriver:
    def __init__(self, harness: Harness, circuit: str, options: dict[str, Any]) -> None:
        self._harness, self._circuit = harness, circuit
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="conformance-loop", daemon=True)
        self._thread.start()

        async def make() -> AsyncBreakerbox:  # grpc.aio binds the channel to the running loop
            return AsyncBreakerbox(harness.address, **options)

        self.client = self._on_loop(make())
        self._watch: Any = None
        self._watch_task: asyncio.Task[None] | None = None
        self.events: queue.Queue[Any] = queue.Queue()

    def _on_loop(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def call(self, name: str, headers: Mapping[str, str], fallback: bool) -> Outcome:
        out = Outcome()

        async def fn() -> str:
            out.ran = True
            out.raised = _raise_for(name, headers)
            if out.raised is not None:
                raise out.raised
            if name == "ok_then_blackhole":
                await asyncio.to_thread(self._harness.command, "blackhole")
            return "ok"

        async def fb(err: CircuitOpenError) -> str:
            out.fallback_got = err
            return FALLBACK

        async def play() -> None:
            try:
                out.value = await self.client.run(self._circuit, fn, fallback=fb if fallback else None)
            except BaseException as err:
                out.error = err

        self._on_loop(play())
        return out

    def stream(self, name: str, fallback: bool) -> Outcome:
        _check_stream_name(name)
        out = Outcome()

        async def chunks() -> AsyncIterator[str]:
            out.ran = True
            yield "a"
            yield "b"
            if name == "fail_midway":
                out.raised = RuntimeError("conformance: the stream broke")
                raise out.raised

        async def fallback_chunks() -> AsyncIterator[str]:
            yield FALLBACK

        def fb(err: CircuitOpenError) -> AsyncIterator[str]:
            out.fallback_got = err
            return fallback_chunks()

        async def play() -> None:
            try:
                async for item in await self.client.run_stream(self._circuit, chunks, fallback=fb if fallback else None):
                    out.items.append(item)
            except BaseException as err:
                out.error = err

        self._on_loop(play())
        return out

    def flush(self) -> bool:
        return bool(self._on_loop(self.client.flush(FLUSH_TIMEOUT)))

    def watch_start(self) -> None:
        async def start() -> None:
            self._watch = self.client.watch([self._circuit])

            async def pump() -> None:
                try:
                    async for message in self._watch:
                        self.events.put(message)
                except BaseException as err:
                    self.events.put(err)

            self._watch_task = asyncio.get_running_loop().create_task(pump())

        self._on_loop(start())

    def watch_stop(self) -> None:
        if self._watch is None:
            return

        async def stop() -> None:
            self._watch.close()
            assert self._watch_task is not None
            await asyncio.wait_for(self._watch_task, 10)

        self._on_loop(stop())
        self._watch = None

    def close(self) -> None:
        try:
            self.watch_stop()
            self._on_loop(self.client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


Driver = Callable[[Harness, str, dict[str, Any]], "SyncDriver | AsyncDriver"]
DRIVERS: dict[str, Driver] = {"sync": SyncDriver, "async": AsyncDriver}
