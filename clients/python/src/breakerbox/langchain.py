"""LangChain adapter: guard any Runnable (a chat model, a chain, a tool)
with a Breakerbox circuit. Needs the `langchain` extra
(`pip install breakerbox[langchain]`, which brings langchain-core); the rest of
the package never imports LangChain.

    from breakerbox.langchain import guard_runnable
    model = guard_runnable(bb, "llm.openai", ChatOpenAI(), fallback=ChatAnthropic(...))
    model.invoke("hello")          # or ainvoke, stream, astream, batch

Every call of the returned Runnable goes through the client: denied, the
`fallback` Runnable answers (or CircuitOpenError is raised, which
`.with_fallbacks([...], exceptions_to_handle=(CircuitOpenError,))` catches);
admitted, the wrapped Runnable runs and its outcome is reported (its errors
classified as `classify` says, e.g. an SDK's 429 or 5xx as FAILURE). A stream
is reported when it ends or fails, not when it starts.

With a `Breakerbox` client, `ainvoke`/`astream` run the guarded sync path in
an executor (LangChain's own default); with an `AsyncBreakerbox`, only the
async methods can be used (the sync ones raise TypeError): its channel
belongs to its event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Generator, Union

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import run_in_executor
from langchain_core.runnables.utils import Input, Output

from .aio import AsyncBreakerbox
from .client import Breakerbox
from .errors import CircuitOpenError

Client = Union[Breakerbox, AsyncBreakerbox]

__all__ = ["GuardedRunnable", "guard_runnable"]


def guard_runnable(client: Client, circuit: str, runnable: Runnable[Input, Output], *, fallback: Runnable[Input, Output] | None = None) -> GuardedRunnable[Input, Output]:
    """`runnable` guarded by `circuit`: see this module's doc."""
    return GuardedRunnable(client, circuit, runnable, fallback=fallback)


class GuardedRunnable(Runnable[Input, Output]):
    """A Runnable that calls `runnable` under `circuit`'s breaker, and
    `fallback` (when given) while the circuit denies."""

    def __init__(self, client: Client, circuit: str, runnable: Runnable[Input, Output], *, fallback: Runnable[Input, Output] | None = None) -> None:
        if not isinstance(client, (Breakerbox, AsyncBreakerbox)):
            raise TypeError(f"client must be a Breakerbox or an AsyncBreakerbox, not {type(client).__name__}")
        self.client = client
        self.circuit = circuit
        self.runnable = runnable
        self.fallback = fallback
        self.name = f"Breakerbox[{circuit}]({runnable.get_name()})"

    @property
    def InputType(self) -> Any:  # noqa: N802 (LangChain's name)
        return self.runnable.InputType

    @property
    def OutputType(self) -> Any:  # noqa: N802
        return self.runnable.OutputType

    def invoke(self, input: Input, config: RunnableConfig | None = None, **kwargs: Any) -> Output:
        fallback = self.fallback
        return self._sync("invoke").run(
            self.circuit,
            lambda: self.runnable.invoke(input, config, **kwargs),
            fallback=None if fallback is None else (lambda _denied: fallback.invoke(input, config, **kwargs)),
        )

    async def ainvoke(self, input: Input, config: RunnableConfig | None = None, **kwargs: Any) -> Output:
        client = self.client
        if not isinstance(client, AsyncBreakerbox):
            return await run_in_executor(config, self.invoke, input, config, **kwargs)
        fallback = self.fallback

        async def on_denial(_denied: CircuitOpenError) -> Output:
            assert fallback is not None
            return await fallback.ainvoke(input, config, **kwargs)

        result: Output = await client.run(
            self.circuit,
            lambda: self.runnable.ainvoke(input, config, **kwargs),
            fallback=None if fallback is None else on_denial,
        )
        return result

    def stream(self, input: Input, config: RunnableConfig | None = None, **kwargs: Any | None) -> Generator[Output, None, None]:
        fallback = self.fallback
        yield from self._sync("stream").run_stream(
            self.circuit,
            lambda: self.runnable.stream(input, config, **kwargs),
            fallback=None if fallback is None else (lambda _denied: fallback.stream(input, config, **kwargs)),
        )

    async def astream(self, input: Input, config: RunnableConfig | None = None, **kwargs: Any | None) -> AsyncIterator[Output]:
        client = self.client
        if not isinstance(client, AsyncBreakerbox):
            # The sync stream, one chunk at a time in an executor: the event loop never blocks on it.
            chunks = self.stream(input, config, **kwargs)
            done = object()
            try:
                while (chunk := await run_in_executor(config, next, chunks, done)) is not done:
                    yield chunk  # type: ignore[misc]  # not `done`, so an Output
            finally:
                await asyncio.shield(run_in_executor(config, chunks.close))
            return
        fallback = self.fallback
        stream = await client.run_stream(
            self.circuit,
            lambda: self.runnable.astream(input, config, **kwargs),
            fallback=None if fallback is None else (lambda _denied: fallback.astream(input, config, **kwargs)),
        )
        async for chunk in stream:
            yield chunk

    def _sync(self, method: str) -> Breakerbox:
        if isinstance(self.client, Breakerbox):
            return self.client
        raise TypeError(f"{method}() needs a Breakerbox client; this Runnable is guarded by an AsyncBreakerbox: use a{method}()")
