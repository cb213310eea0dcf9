"""Guard calls to a dependency with Breakerbox, from Python (grpcio, sync API).

    channel, stub = connect("localhost:50051", api_key=os.environ.get("BREAKERBOX_API_KEY"))
    answer = run(
        stub,
        "llm.openai.gpt",
        lambda: call_openai(prompt),
        fallback=lambda denied: call_local_model(prompt),
        timeout=20.0,
    )

`run` follows the contract of docs/clients.md: Acquire; when denied, answer
with the fallback without touching the dependency; otherwise call it, classify
the outcome and Report it with the permit. `Watcher` streams a circuit's
transitions in a background thread. Copy this file into your agent; it needs
only grpcio, protobuf and the generated stubs (`pip install ./gen/python`).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import email.utils
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration

from breakerbox.v1 import breakerbox_pb2 as pb
from breakerbox.v1 import breakerbox_pb2_grpc as pb_grpc

log = logging.getLogger("breakerbox")

T = TypeVar("T")

# Breakerbox (or its Redis) cannot answer right now: the agent applies its own
# policy instead of failing. Every other status is a mistake to fix (a bad
# circuit name, a missing API key) and is raised.
_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

# Whether the last Acquire found Breakerbox unreachable: run() logs once per
# outage, not once per call.
_outage = threading.Event()


def state_name(state: int) -> str:
    """`pb.STATE_HALF_OPEN` -> "HALF_OPEN"."""
    name: str = pb.State.Name(state)
    return name.removeprefix("STATE_")


def connect(address: str, api_key: str | None = None) -> tuple[grpc.Channel, pb_grpc.CircuitServiceStub]:
    """A plaintext channel to Breakerbox at `address` (host:port) and a stub on it.

    With `api_key` (empty counts as none), every call carries the metadata
    `authorization: Bearer <api_key>`, which a server with access control on
    (BREAKERBOX_API_KEYS) requires; without it such a server answers
    UNAUTHENTICATED. Close the channel when done.
    """
    # grpc's reconnect backoff grows to 120 s by default: after an outage the
    # agent would go on without permits for that long. Retry within seconds.
    channel: grpc.Channel = grpc.insecure_channel(address, options=[("grpc.max_reconnect_backoff_ms", 5000)])
    if api_key:
        channel = grpc.intercept_channel(channel, _BearerAuth(api_key))
    # The generated grpc module has no type annotations.
    return channel, pb_grpc.CircuitServiceStub(channel)  # type: ignore[no-untyped-call, unused-ignore]


class _CallDetails(grpc.ClientCallDetails):
    """A call's details with one more metadata entry."""

    def __init__(self, details: grpc.ClientCallDetails, header: tuple[str, str]) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = (*(details.metadata or ()), header)
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


# The interceptor bases are generic in grpc's type stubs (grpc-stubs) only.
if TYPE_CHECKING:
    _UnaryUnaryInterceptor = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStreamInterceptor = grpc.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnaryInterceptor = grpc.UnaryUnaryClientInterceptor
    _UnaryStreamInterceptor = grpc.UnaryStreamClientInterceptor


class _BearerAuth(_UnaryUnaryInterceptor, _UnaryStreamInterceptor):
    """Adds `authorization: Bearer <key>` to every unary and server-streaming call."""

    def __init__(self, key: str) -> None:
        self._header = ("authorization", f"Bearer {key}")

    def intercept_unary_unary(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(_CallDetails(client_call_details, self._header), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(_CallDetails(client_call_details, self._header), request)


@dataclass(frozen=True)
class Denied:
    """Why `run` answered with the fallback: Breakerbox denied the call."""

    circuit: str
    #: The circuit's state: "OPEN", "HALF_OPEN" (all probes out) or "FORCED_OPEN".
    state: str
    #: Seconds until asking again may succeed; 0 when unknown (FORCED_OPEN,
    #: or HALF_OPEN with every probe permit out).
    retry_after: float
    #: "OPEN", "HALF_OPEN_FULL" or "FORCED_OPEN".
    reason: str


class BreakerboxError(Exception):
    """Breakerbox refused a call for a reason to fix, not to wait out:
    UNAUTHENTICATED or PERMISSION_DENIED (the API key), INVALID_ARGUMENT (the
    circuit name). `code` is the gRPC status code, `details` the server's message."""

    def __init__(self, rpc: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"Breakerbox {rpc}: {code.name}: {details}")
        self.code = code
        self.details = details


class CallTimeout(TimeoutError):
    """The dependency did not answer within `run`'s `timeout` (reported as TIMEOUT)."""


def _error_of(err: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    # grpcio raises RpcError objects that are also grpc.Call: code() and details().
    call: Any = err
    return call.code(), call.details() or ""


def _duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return d


def run(
    stub: pb_grpc.CircuitServiceStub,
    circuit: str,
    fn: Callable[[], T],
    fallback: Callable[[Denied], T],
    timeout: float | None,
    *,
    is_failure: Callable[[Exception], bool] = lambda err: True,
    rpc_timeout: float = 2.0,
) -> T:
    """Calls `fn` under `circuit`'s breaker and returns its result.

    - Acquire. When denied, returns `fallback(Denied(...))` at once; `fn` is not called.
    - Otherwise calls `fn` and Reports with the permit and the call's duration:
      a return is SUCCESS; an exception is FAILURE, or TIMEOUT when it is a
      `TimeoutError` (`socket.timeout` and `CallTimeout` included), or IGNORED when
      `is_failure(err)` is false (your own bad request says nothing about the
      dependency). The exception is re-raised. An error carrying a Retry-After
      (see `retry_after_of`) passes it with the Report, so an opening circuit
      stays open at least that long.
    - `timeout` (seconds, None for none): when `fn` has not returned by then,
      reports TIMEOUT and raises `CallTimeout`. A Python thread cannot be
      stopped, so `fn` runs in a daemon thread and is abandoned, not
      interrupted: give your client its own timeout as well.
    - Ctrl-C (or SystemExit) while `fn` runs reports IGNORED, freeing the
      permit (a half-open probe slot), then propagates.
    - Breakerbox unreachable (UNAVAILABLE, or no answer within `rpc_timeout`)
      on Acquire: fails open and calls `fn` without a permit (nothing to
      report), with a warning when the outage starts and when it ends. Choose to fail closed instead by calling your
      fallback there. A Report that fails is logged, never raised: the call's
      result matters more, and an unreported probe permit counts as TIMEOUT
      after the circuit's permit_ttl.
    - Any other refusal of Acquire raises `BreakerboxError`.
    """
    try:
        granted: pb.AcquireResponse = stub.Acquire(pb.AcquireRequest(circuit=circuit), timeout=rpc_timeout)
    except grpc.RpcError as err:
        code, details = _error_of(err)
        if code not in _UNREACHABLE:
            raise BreakerboxError("Acquire", code, details) from None
        if not _outage.is_set():
            _outage.set()
            log.warning("Breakerbox unreachable (%s: %s); calling dependencies without permits until it is back", code.name, details)
        return _call(fn, timeout)
    if _outage.is_set():
        _outage.clear()
        log.warning("Breakerbox reachable again")
    if not granted.allowed:
        return fallback(
            Denied(
                circuit=circuit,
                state=state_name(granted.state),
                retry_after=granted.retry_after.ToTimedelta().total_seconds(),
                reason=pb.DenyReason.Name(granted.reason).removeprefix("DENY_REASON_"),
            )
        )

    started = time.monotonic()
    try:
        result = _call(fn, timeout)
    except Exception as err:
        elapsed = time.monotonic() - started
        if isinstance(err, TimeoutError):
            _report(stub, circuit, granted.permit, pb.OUTCOME_TIMEOUT, elapsed, retry_after_of(err), rpc_timeout)
        elif is_failure(err):
            _report(stub, circuit, granted.permit, pb.OUTCOME_FAILURE, elapsed, retry_after_of(err), rpc_timeout)
        else:
            _report(stub, circuit, granted.permit, pb.OUTCOME_IGNORED, elapsed, None, rpc_timeout)
        raise
    except BaseException:
        # KeyboardInterrupt or SystemExit: we gave up, the dependency did not fail.
        _report(stub, circuit, granted.permit, pb.OUTCOME_IGNORED, time.monotonic() - started, None, rpc_timeout)
        raise
    _report(stub, circuit, granted.permit, pb.OUTCOME_SUCCESS, time.monotonic() - started, None, rpc_timeout)
    return result


def _call(fn: Callable[[], T], timeout: float | None) -> T:
    if timeout is None:
        return fn()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as err:  # handed to the waiting caller
            future.set_exception(err)

    threading.Thread(target=target, name="breakerbox-call", daemon=True).start()
    finished, _ = concurrent.futures.wait([future], timeout)
    if not finished:
        raise CallTimeout(f"no answer within {timeout:g} s")
    return future.result()


def _report(
    stub: pb_grpc.CircuitServiceStub,
    circuit: str,
    permit: str,
    outcome: pb.Outcome,
    elapsed: float,
    retry_after: float | None,
    rpc_timeout: float,
) -> None:
    request = pb.ReportRequest(circuit=circuit, permit=permit, outcome=outcome, duration=_duration(elapsed))
    if retry_after is not None:
        request.retry_after.CopyFrom(_duration(retry_after))
    try:
        stub.Report(request, timeout=rpc_timeout)
    except grpc.RpcError as err:
        code, details = _error_of(err)
        log.warning("Breakerbox Report for %s failed (%s: %s)", circuit, code.name, details)


def retry_after_of(err: BaseException) -> float | None:
    """The dependency's own back-off hint carried by `err`, in seconds, or None.

    Looks for, in order: an attribute `retry_after` (seconds, or a timedelta);
    then a `Retry-After` header (delta-seconds or an HTTP date) on an HTTP 429
    or 503 error: `err.status`/`err.code`/`err.status_code` with `err.headers`
    (urllib.error.HTTPError), or the same on `err.response` (requests'
    HTTPError, httpx's HTTPStatusError).
    """
    hint = getattr(err, "retry_after", None)
    if isinstance(hint, datetime.timedelta):
        return max(hint.total_seconds(), 0.0)
    if isinstance(hint, (int, float)) and not isinstance(hint, bool):
        return max(float(hint), 0.0)
    for source in (err, getattr(err, "response", None)):
        if source is None:
            continue
        status = next((s for s in (getattr(source, name, None) for name in ("status", "status_code", "code")) if isinstance(s, int)), None)
        headers = getattr(source, "headers", None)
        if status in (429, 503) and headers is not None and hasattr(headers, "get"):
            value = headers.get("Retry-After")
            if isinstance(value, str):
                return parse_retry_after(value)
    return None


def parse_retry_after(value: str) -> float | None:
    """An HTTP Retry-After value ("120" or "Wed, 21 Oct 2026 07:28:00 GMT") in seconds from now, or None."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max((when - datetime.datetime.now(datetime.timezone.utc)).total_seconds(), 0.0)


class Watcher:
    """Streams Watch for some circuits in a daemon thread and calls
    `on_event(event)` for every transition, in order.

    It reconnects by itself after the stream breaks (Breakerbox restarting or
    unreachable), resuming from the last event it saw, so it misses none; if
    those events are no longer retained (OUT_OF_RANGE) it starts afresh from
    a snapshot. Any other error (a bad circuit name, a missing API key) ends
    it: `wait_ready` and `error` report it. `on_event` runs on the Watch
    thread; keep it short.
    """

    def __init__(
        self,
        stub: pb_grpc.CircuitServiceStub,
        circuits: Sequence[str],
        on_event: Callable[[pb.CircuitEvent], None],
    ) -> None:
        self._stub = stub
        self._circuits = list(circuits)
        self._on_event = on_event
        self._ready = threading.Event()
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._call: Any = None
        self._resume_token = ""
        self._generations: dict[str, int] = {}
        self.error: BreakerboxError | None = None
        self._thread = threading.Thread(target=self._loop, name="breakerbox-watch", daemon=True)

    def start(self) -> Watcher:
        """Starts the Watch thread; returns self."""
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> None:
        """Waits for the initial snapshot, so no later transition is missed.
        Raises `BreakerboxError` if the stream was refused, `TimeoutError` if
        the snapshot did not arrive within `timeout` seconds."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"no Watch snapshot from Breakerbox within {timeout:g} s")
        if self.error is not None:
            raise self.error

    def wait_for_generation(self, circuit: str, generation: int, timeout: float) -> bool:
        """Waits until the stream has delivered `circuit`'s transitions up to
        `generation` (CircuitStatus.generation from GetState). False on timeout.
        A circuit is created at generation 0, and each transition adds one."""
        with self._changed:
            return self._changed.wait_for(lambda: self._generations.get(circuit, 0) >= generation, timeout)

    def close(self) -> None:
        """Ends the stream; the thread exits shortly after."""
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()

    def _loop(self) -> None:
        backoff = 0.1
        warned = False  # once per outage, not per attempt
        while not self._closed.is_set():
            request = pb.WatchRequest(circuits=self._circuits, resume_token=self._resume_token)
            try:
                self._call = self._stub.Watch(request)
                if self._closed.is_set():  # close() ran before the call existed
                    self._call.cancel()
                for message in self._call:
                    self._handle(message)
                    backoff, warned = 0.1, False
                # The server ended the stream (it is shutting down): resume elsewhere.
            except grpc.RpcError as err:
                if self._closed.is_set():
                    return
                code, details = _error_of(err)
                if code == grpc.StatusCode.OUT_OF_RANGE:
                    log.warning("Watch resume token expired; starting again from a snapshot")
                    self._resume_token = ""
                    with self._changed:  # the snapshot may come from a new store
                        self._generations.clear()
                elif code not in _UNREACHABLE:
                    self.error = BreakerboxError("Watch", code, details)
                    self._ready.set()
                    return
                elif not warned:
                    warned = True
                    log.warning("Watch interrupted (%s: %s); reconnecting", code.name, details)
            self._closed.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _handle(self, message: pb.WatchResponse) -> None:
        # Every message after the snapshot (heartbeats and kinds newer than
        # this file included) carries the stream's position: resume from the
        # last one, so a quiet watch keeps a fresh token.
        if message.resume_token:
            self._resume_token = message.resume_token
        kind = message.WhichOneof("kind")
        if kind == "snapshot":
            self._advance(message.snapshot.circuit, message.snapshot.generation)
        elif kind == "snapshot_complete":
            self._ready.set()
        elif kind == "event":
            event = message.event
            self._on_event(event)
            self._advance(event.circuit, event.generation)
            self._ready.set()  # a resumed stream sends no snapshot
        # heartbeat, config_change, circuit_removed, and kinds newer than this
        # file: nothing more to do.

    def _advance(self, circuit: str, generation: int) -> None:
        with self._changed:
            self._generations[circuit] = max(self._generations.get(circuit, 0), generation)
            self._changed.notify_all()


__all__: list[str] = [
    "BreakerboxError",
    "CallTimeout",
    "Denied",
    "Watcher",
    "connect",
    "parse_retry_after",
    "retry_after_of",
    "run",
    "state_name",
]
