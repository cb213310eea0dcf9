"""`AsyncBreakerbox`: the asyncio client (grpc.aio)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import random
import time
from typing import Any, AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence, TypeVar, Union, overload

import grpc
import grpc.aio

from ._admission import Admission, AnyAdmission, AskAny, Denial, Permit, UnavailablePolicy
from ._trace_context import with_trace_context
from ._core import IGNORED, SUCCESS, ClientCore, ClientOptions, channel_args
from ._details import failure_of
from .classify import Classifier, classify_exception
from ._watch import AsyncWatch, WatchCursor
from ._report_queue import AsyncReportQueue, Backoff, PendingReports
from .errors import CallTimeout, CircuitOpenError
from .v1 import breakerbox_pb2 as pb
from .v1 import breakerbox_pb2_grpc as pb_grpc

T = TypeVar("T")
#: A plain or async function of no arguments.
MaybeAsync = Callable[[], Union[T, Awaitable[T]]]
#: A plain or async fallback: gets the denial, returns the call's stand-in result.
AsyncFallback = Callable[[CircuitOpenError], Union[T, Awaitable[T]]]


class AsyncBreakerbox:
    """The asyncio twin of `Breakerbox` (same options), on grpc.aio. Create it
    inside the running event loop; `await close()` (or `async with`) flushes
    the queued Reports, which one task sends with BatchReport."""

    def __init__(
        self,
        address: str,
        *,
        api_key: str | None = None,
        tls: grpc.ChannelCredentials | bool | None = None,
        agent_instance_id: str | None = None,
        on_unavailable: UnavailablePolicy = "fail_open",
        rpc_timeout: float = 2.0,
        service_retry: float = 5.0,
        classify: Classifier = classify_exception,
        local_failure_threshold: int = 5,
        local_open_seconds: float = 30.0,
        report_queue_size: int = 10_000,
        report_linger: float = 0.002,
        close_timeout: float = 5.0,
        interceptors: Sequence[Any] = (),
        channel_options: Sequence[tuple[str, Any]] = (),
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._core = ClientCore(
            ClientOptions(
                api_key=api_key,
                tls=tls,
                agent_instance_id=agent_instance_id,
                on_unavailable=on_unavailable,
                rpc_timeout=rpc_timeout,
                service_retry=service_retry,
                classify=classify,
                local_failure_threshold=local_failure_threshold,
                local_open_seconds=local_open_seconds,
                report_queue_size=report_queue_size,
                report_linger=report_linger,
                close_timeout=close_timeout,
                interceptors=interceptors,
                channel_options=channel_options,
                clock=clock,
                rng=rng or random.Random(),
            )
        )
        o = self._core.options
        credentials, args = channel_args(o)
        aio_interceptors = list(o.interceptors) or None
        self._channel = (
            grpc.aio.secure_channel(address, credentials, args, interceptors=aio_interceptors)
            if credentials
            else grpc.aio.insecure_channel(address, args, interceptors=aio_interceptors)
        )
        #: The generated stub on this client's channel, for the other RPCs (GetState, Watch, ...).
        self.stub: Any = pb_grpc.CircuitServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._pending = PendingReports(o.report_queue_size, self._core.gate.service_down, self._core.gate.service_up)
        self._queue = AsyncReportQueue(self._pending, self._send, Backoff(0.1, 5.0, o.rng), o.report_linger)
        self._closed = False

    @overload
    async def run(self, circuit: str, fn: Callable[[], Awaitable[T]], *, fallback: AsyncFallback[T] | None = None, timeout: float | None = None) -> T: ...

    @overload
    async def run(self, circuit: str, fn: Callable[[], T], *, fallback: AsyncFallback[T] | None = None, timeout: float | None = None) -> T: ...

    async def run(self, circuit: str, fn: MaybeAsync[Any], *, fallback: AsyncFallback[Any] | None = None, timeout: float | None = None) -> Any:
        """`Breakerbox.run` for asyncio: `fn` and `fallback` may be plain or
        async functions (anything returning an awaitable is awaited).
        `timeout` applies to the awaitable `fn` returns (a plain function
        blocks the loop and cannot be timed out): past it the awaitable is
        cancelled, TIMEOUT reported and CallTimeout raised."""
        permit = await self._admit_or_error(circuit)
        if isinstance(permit, CircuitOpenError):
            if fallback is None:
                raise permit
            return await _resolve(fallback(permit))
        return await self._call(permit, fn, timeout)

    @overload
    async def run_any(self, circuits: Sequence[str], fn: Callable[[str], Awaitable[T]], *, fallback: AsyncFallback[T] | None = None, timeout: float | None = None) -> T: ...

    @overload
    async def run_any(self, circuits: Sequence[str], fn: Callable[[str], T], *, fallback: AsyncFallback[T] | None = None, timeout: float | None = None) -> T: ...

    async def run_any(self, circuits: Sequence[str], fn: Callable[[str], Any], *, fallback: AsyncFallback[Any] | None = None, timeout: float | None = None) -> Any:
        """`Breakerbox.run_any` for asyncio: `fn(circuit)` and `fallback` may be plain or async."""
        admission = await self._admit_any(circuits)
        if not isinstance(admission, Permit):
            error = admission.error()
            if fallback is None:
                raise error
            return await _resolve(fallback(error))
        chosen = admission.circuit
        return await self._call(admission, lambda: fn(chosen), timeout)

    async def _call(self, permit: Permit, fn: MaybeAsync[Any], timeout: float | None) -> Any:
        started = self._core.clock()
        try:
            result = fn()
            if inspect.isawaitable(result):
                result = await (result if timeout is None else _within(result, timeout))
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)
        return result

    async def run_stream(self, circuit: str, fn: Callable[[], AsyncIterable[T] | Awaitable[AsyncIterable[T]]], *, fallback: Callable[[CircuitOpenError], AsyncIterable[T]] | None = None) -> AsyncGenerator[T, None]:
        """Admits now; `fn` returns an async iterable (or an awaitable of one,
        like `await client.chat.completions.create(stream=True)`), reported
        when the iteration ends (SUCCESS), fails (as `classify` says) or is
        closed early (IGNORED). Use: `async for chunk in await bb.run_stream(...)`."""
        permit = await self._admit_or_error(circuit)
        if isinstance(permit, CircuitOpenError):
            if fallback is None:
                raise permit
            return _each(fallback(permit))
        started = self._core.clock()
        try:
            made = fn()
            stream: AsyncIterable[T] = await made if inspect.isawaitable(made) else made
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        return self._reported(permit, started, stream)

    def guard(self, circuit: str, *, fallback: Callable[..., Any] | None = None, timeout: float | None = None) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
        """Decorator for `async def` functions: every call goes through `run`.
        The fallback (plain or async) gets the CircuitOpenError, then the call's arguments."""

        def decorate(f: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            if not inspect.iscoroutinefunction(f):
                raise TypeError(f"{getattr(f, '__qualname__', f)} is not async: guard it with Breakerbox.guard")

            @functools.wraps(f)
            async def guarded_call(*args: Any, **kwargs: Any) -> T:
                fb = None if fallback is None else (lambda e: fallback(e, *args, **kwargs))
                return await self.run(circuit, lambda: f(*args, **kwargs), fallback=fb, timeout=timeout)

            return guarded_call

        return decorate

    @contextlib.asynccontextmanager
    async def guarded(self, circuit: str) -> AsyncIterator[None]:
        """`async with client.guarded("llm.openai"):`, as `Breakerbox.guarded`."""
        permit = await self._admit_or_error(circuit)
        if isinstance(permit, CircuitOpenError):
            raise permit
        started = self._core.clock()
        try:
            yield
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)

    async def flush(self, timeout: float | None = None) -> bool:
        """As `Breakerbox.flush`."""
        return await self._queue.flush(timeout)

    async def close(self) -> None:
        """Sends the queued Reports (at most close_timeout s), then closes the channel. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._queue.close(self._core.options.close_timeout)
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncBreakerbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def watch(self, circuits: Sequence[str] = (), *, prefix: str = "", resume_token: str = "") -> AsyncWatch:
        """Streams the transitions of `circuits` (or of names starting with
        `prefix`; all circuits without either), from a snapshot or from
        `resume_token`, reconnecting with jittered backoff (see breakerbox._watch).
        Transitions it delivers also feed this client's known-OPEN fail-fast."""
        cursor = WatchCursor(circuits, prefix, resume_token, self._core.gate, Backoff(0.1, 5.0, self._core.options.rng))
        return AsyncWatch(self.stub, self._core.metadata, cursor)

    @property
    def dropped_reports(self) -> int:
        return self._pending.dropped

    async def _admit(self, circuit: str) -> Admission:
        gate = self._core.gate
        decided = gate.before_acquire(circuit)
        if decided is not None:
            return decided
        try:
            response = await self.stub.Acquire(self._core.acquire_request(circuit), timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))
        except grpc.RpcError as err:
            return gate.acquire_failed(circuit, failure_of(err))
        return gate.after_acquire(circuit, response)

    async def _admit_any(self, circuits: Sequence[str]) -> AnyAdmission:
        gate = self._core.gate
        decided = gate.before_acquire_any(circuits)
        if not isinstance(decided, AskAny):
            return decided
        request = pb.AcquireAnyRequest(circuits=decided.candidates, agent_instance_id=self._core.agent_instance_id)
        try:
            response = await self.stub.AcquireAny(request, timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))
        except grpc.RpcError as err:
            return gate.acquire_any_failed(circuits, failure_of(err))
        return gate.after_acquire_any(circuits, decided, response)

    async def _admit_or_error(self, circuit: str) -> Permit | CircuitOpenError:
        a = await self._admit(circuit)
        return a.error() if isinstance(a, Denial) else a

    async def _send(self, request: Any) -> Any:
        return await self.stub.BatchReport(request, timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))

    async def _reported(self, permit: Permit, started: float, stream: AsyncIterable[T]) -> AsyncGenerator[T, None]:
        try:
            async for item in stream:
                yield item
        except GeneratorExit:
            self._core.settle(permit, IGNORED, started, self._queue.put)
            raise
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)


async def _each(items: AsyncIterable[T]) -> AsyncGenerator[T, None]:
    async for item in items:
        yield item


async def _resolve(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


async def _within(awaitable: Awaitable[T], timeout: float) -> T:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise CallTimeout(f"no answer within {timeout:g} s") from None
