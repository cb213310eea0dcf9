"""`Breakerbox`: the synchronous client (grpcio)."""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import random
import time
import threading
import weakref
from typing import Any, Callable, Generator, Iterable, Iterator, Sequence, TypeVar

import grpc

from ._admission import Admission, AnyAdmission, AskAny, Denial, Permit, UnavailablePolicy
from ._core import IGNORED, SUCCESS, ClientCore, ClientOptions, channel_args
from ._details import failure_of
from ._trace_context import with_trace_context
from .classify import Classifier, classify_exception
from ._watch import Watch, WatchCursor
from ._report_queue import Backoff, PendingReports, ReportQueue
from .errors import CallTimeout, CircuitOpenError
from .v1 import breakerbox_pb2 as pb
from .v1 import breakerbox_pb2_grpc as pb_grpc

T = TypeVar("T")
Fallback = Callable[[CircuitOpenError], T]


class Breakerbox:
    """A Breakerbox client for threads: guard calls with `run`, `guard` or `guarded`.

    `address` is host:port of the gRPC port. Plaintext unless `tls` is True
    (system roots) or grpc.ChannelCredentials. `api_key` is sent as
    `authorization: Bearer <key>`. `agent_instance_id` (default "<host>:<pid>")
    identifies this process as a reporter. `on_unavailable`: while Breakerbox
    cannot be reached, "fail_open" calls the dependency under a local breaker
    per circuit (`local_failure_threshold` failures in a row open it for
    `local_open_seconds`), "fail_closed" denies (reason SERVICE_UNAVAILABLE).
    An unreachable Breakerbox is not asked again for `service_retry` seconds,
    so an outage costs one `rpc_timeout`, not one per call. `classify` maps the
    guarded function's exceptions to outcomes (default `classify_exception`).
    Reports are queued (at most `report_queue_size`) and sent by one
    background thread, a batch smaller than 100 after waiting up to
    `report_linger` seconds for more (so back-to-back calls share one
    BatchReport); `close()` sends what is queued, for at most
    `close_timeout` seconds. `interceptors` are grpc client interceptors.
    """

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
        channel = grpc.secure_channel(address, credentials, args) if credentials else grpc.insecure_channel(address, args)
        self._channel = channel
        if o.interceptors:
            channel = grpc.intercept_channel(channel, *o.interceptors)
        #: The generated stub on this client's channel, for the other RPCs (GetState, Watch, ...).
        self.stub: Any = pb_grpc.CircuitServiceStub(channel)  # type: ignore[no-untyped-call]
        pending = PendingReports(o.report_queue_size, self._core.gate.service_down, self._core.gate.service_up)
        self._pending = pending
        self._queue = ReportQueue(pending, self._send, Backoff(0.1, 5.0, o.rng), o.report_linger)
        self._closed = threading.Event()
        self._close_at_exit = _close_at_exit(self)

    # -- guarding ---------------------------------------------------------

    def run(self, circuit: str, fn: Callable[[], T], *, fallback: Fallback[T] | None = None, timeout: float | None = None) -> T:
        """Calls `fn` under `circuit`'s breaker and returns its result.

        Denied: `fallback(error)` when given, else raises CircuitOpenError;
        `fn` is not called. Admitted: calls `fn`; its return is SUCCESS, an
        exception counts as `classify` says and is re-raised. `timeout`
        (seconds): when `fn` has not returned by then, TIMEOUT is reported and
        CallTimeout raised; `fn` runs in a daemon thread then, and is
        abandoned, not stopped. Returns as soon as `fn` did: the Report is queued.
        """
        permit = self._admit_or_fallback(circuit)
        if isinstance(permit, CircuitOpenError):
            if fallback is None:
                raise permit
            return fallback(permit)
        return self._call(permit, fn, timeout)

    def run_any(self, circuits: Sequence[str], fn: Callable[[str], T], *, fallback: Fallback[T] | None = None, timeout: float | None = None) -> T:
        """`run` over failover candidates, in order of preference (AcquireAny):
        calls `fn(circuit)` with the first circuit that admits the call, and
        reports its outcome on that circuit. Candidates known OPEN are not
        asked about. Denied by all: `fallback(error)` when given, else raises
        AllCircuitsOpenError (a CircuitOpenError with every candidate's denial)."""
        admission = self._admit_any(circuits)
        if not isinstance(admission, Permit):
            error = admission.error()
            if fallback is None:
                raise error
            return fallback(error)
        chosen = admission.circuit
        return self._call(admission, lambda: fn(chosen), timeout)

    def run_stream(self, circuit: str, fn: Callable[[], Iterable[T]], *, fallback: Fallback[Iterable[T]] | None = None) -> Generator[T, None, None]:
        """Like `run` for a function that returns an iterable (a streamed
        response): admits now, and reports when the iteration ends (SUCCESS),
        fails (as `classify` says) or is closed early by the caller (IGNORED).
        `run` itself never wraps: a stream it returns is reported when returned."""
        permit = self._admit_or_fallback(circuit)
        if isinstance(permit, CircuitOpenError):
            if fallback is None:
                raise permit
            return (item for item in fallback(permit))
        started = self._core.clock()
        try:
            stream = fn()
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        return self._reported(permit, started, stream)

    def guard(self, circuit: str, *, fallback: Callable[..., T] | None = None, timeout: float | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: every call of the function goes through `run`. The
        fallback gets the CircuitOpenError and then the call's arguments.
        For `async def` functions use AsyncBreakerbox.guard."""

        def decorate(f: Callable[..., T]) -> Callable[..., T]:
            if inspect.iscoroutinefunction(f):
                raise TypeError(f"{f.__qualname__} is async: guard it with AsyncBreakerbox.guard")

            @functools.wraps(f)
            def guarded_call(*args: Any, **kwargs: Any) -> T:
                fb = None if fallback is None else (lambda e: fallback(e, *args, **kwargs))
                return self.run(circuit, lambda: f(*args, **kwargs), fallback=fb, timeout=timeout)

            return guarded_call

        return decorate

    @contextlib.contextmanager
    def guarded(self, circuit: str) -> Iterator[None]:
        """`with client.guarded("llm.openai"):` admits on entry (raises
        CircuitOpenError when denied: the block does not run), reports
        SUCCESS when the block ends, or the exception's outcome when it raises."""
        permit = self._admit_or_fallback(circuit)
        if isinstance(permit, CircuitOpenError):
            raise permit
        started = self._core.clock()
        try:
            yield
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)

    # -- lifecycle ----------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued Report is delivered (or refused for good),
        while Breakerbox is unreachable too; False when `timeout` s passed first."""
        return self._queue.flush(timeout)

    def close(self) -> None:
        """Sends the queued Reports (at most close_timeout s), then closes the channel. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        atexit.unregister(self._close_at_exit)
        self._queue.close(self._core.options.close_timeout)
        self._channel.close()

    def __enter__(self) -> Breakerbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def watch(self, circuits: Sequence[str] = (), *, prefix: str = "", resume_token: str = "") -> Watch:
        """Streams the transitions of `circuits` (or of names starting with
        `prefix`; all circuits without either), from a snapshot or from
        `resume_token`, reconnecting with jittered backoff (see breakerbox._watch).
        Transitions it delivers also feed this client's known-OPEN fail-fast."""
        cursor = WatchCursor(circuits, prefix, resume_token, self._core.gate, Backoff(0.1, 5.0, self._core.options.rng))
        return Watch(self.stub, self._core.metadata, cursor)

    @property
    def dropped_reports(self) -> int:
        """Reports dropped because the queue was full."""
        return self._pending.dropped

    # -- internals ----------------------------------------------------------

    def _admit(self, circuit: str) -> Admission:
        gate = self._core.gate
        decided = gate.before_acquire(circuit)
        if decided is not None:
            return decided
        try:
            response = self.stub.Acquire(self._core.acquire_request(circuit), timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))
        except grpc.RpcError as err:
            return gate.acquire_failed(circuit, failure_of(err))
        return gate.after_acquire(circuit, response)

    def _admit_any(self, circuits: Sequence[str]) -> AnyAdmission:
        gate = self._core.gate
        decided = gate.before_acquire_any(circuits)
        if not isinstance(decided, AskAny):
            return decided
        request = pb.AcquireAnyRequest(circuits=decided.candidates, agent_instance_id=self._core.agent_instance_id)
        try:
            response = self.stub.AcquireAny(request, timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))
        except grpc.RpcError as err:
            return gate.acquire_any_failed(circuits, failure_of(err))
        return gate.after_acquire_any(circuits, decided, response)

    def _call(self, permit: Permit, fn: Callable[[], T], timeout: float | None) -> T:
        started = self._core.clock()
        try:
            result = fn() if timeout is None else _call_within(fn, timeout)
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)
        return result

    def _admit_or_fallback(self, circuit: str) -> Permit | CircuitOpenError:
        a = self._admit(circuit)
        return a.error() if isinstance(a, Denial) else a

    def _send(self, request: Any) -> Any:
        return self.stub.BatchReport(request, timeout=self._core.options.rpc_timeout, metadata=with_trace_context(self._core.metadata))

    def _reported(self, permit: Permit, started: float, stream: Iterable[T]) -> Generator[T, None, None]:
        try:
            yield from stream
        except GeneratorExit:
            self._core.settle(permit, IGNORED, started, self._queue.put)
            raise
        except BaseException as err:
            self._core.settle(permit, self._core.classify(err), started, self._queue.put)
            raise
        self._core.settle(permit, SUCCESS, started, self._queue.put)


def _call_within(fn: Callable[[], T], timeout: float) -> T:
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as err:  # handed to the waiting caller
            future.set_exception(err)

    threading.Thread(target=target, name="breakerbox-call", daemon=True).start()
    done, _ = concurrent.futures.wait([future], timeout)
    if not done:
        raise CallTimeout(f"no answer within {timeout:g} s")
    return future.result()


def _close_at_exit(client: Breakerbox) -> Callable[[], None]:
    """Closes `client` when the interpreter exits, if the program did not.

    The sender is a daemon thread, which dies with the interpreter: without
    this, a script that never closed its client would lose the Reports still
    queued (its last calls' outcomes). A weak reference, so the registration
    does not keep a dropped client alive; `close()` unregisters it.
    """
    ref = weakref.ref(client)

    def close() -> None:
        live = ref()
        if live is not None:
            live.close()

    atexit.register(close)
    return close
