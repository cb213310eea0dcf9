"""What the sync and async `watch()` share: the stream's resume position,
jittered reconnect delays, and which errors end the watch.

A watch reconnects by itself when the stream breaks (Breakerbox restarting or
unreachable) or the server ends it, resuming after the last message it
delivered, so it misses no transition; when those are no longer retained
(RESUME_TOKEN_EXPIRED) it starts afresh from a snapshot. Any other error (a
bad circuit name, an API key) ends it with BreakerboxError. Every transition
also feeds the client's known-OPEN fail-fast.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Iterator, Sequence

import grpc

from ._admission import Gate
from ._trace_context import with_trace_context
from ._details import failure_of
from ._report_queue import Backoff
from .errors import BreakerboxError
from .v1 import breakerbox_pb2 as pb


class WatchCursor:
    def __init__(self, circuits: Sequence[str], prefix: str, resume_token: str, gate: Gate, backoff: Backoff) -> None:
        self._circuits = list(circuits)
        self._prefix = prefix
        #: The position after the last message delivered: pass it to a later watch() to resume there.
        self.resume_token = resume_token
        self._gate = gate
        self.backoff = backoff

    def request(self) -> pb.WatchRequest:
        return pb.WatchRequest(circuits=self._circuits, prefix=self._prefix, resume_token=self.resume_token)

    def deliver(self, message: pb.WatchResponse) -> bool:
        """Records the message's position and what it says; True when it is for the caller (not a heartbeat)."""
        self.backoff.reset()
        kind: str | None = message.WhichOneof("kind")
        token = message.resume_token or (
            message.heartbeat.resume_token if kind == "heartbeat" else message.snapshot_complete.resume_token if kind == "snapshot_complete" else ""
        )
        if token:
            self.resume_token = token
        if kind == "event":
            e = message.event
            remaining = (e.open_until.ToNanoseconds() - e.at.ToNanoseconds()) / 1e9 if e.HasField("open_until") else 0.0
            self._gate.transition(e.circuit, pb.State.Name(e.to_state).removeprefix("STATE_"), remaining)
        return kind != "heartbeat"

    def failed(self, err: grpc.RpcError) -> float:
        """The delay before reconnecting, or raises BreakerboxError when the watch cannot go on."""
        failure = failure_of(err)
        if failure.reason == "RESUME_TOKEN_EXPIRED" or failure.code == grpc.StatusCode.OUT_OF_RANGE:
            self.resume_token = ""  # the snapshot brings the caller up to date
            return 0.0
        if failure.unreachable or failure.reason == "WATCHER_TOO_SLOW":
            return max(self.backoff.next(), failure.retry_delay or 0.0)
        raise BreakerboxError("Watch", failure)


class Watch:
    """`Breakerbox.watch()`: iterate it for WatchResponse messages (snapshot,
    snapshot_complete, event, ...; heartbeats are consumed); `close()` from
    any thread ends the iteration; `resume_token` is where a later watch may resume."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...], cursor: WatchCursor) -> None:
        self._stub, self._metadata, self._cursor = stub, metadata, cursor
        self._closed = threading.Event()
        self._call: Any = None

    @property
    def resume_token(self) -> str:
        return self._cursor.resume_token

    def __iter__(self) -> Iterator[pb.WatchResponse]:
        while not self._closed.is_set():
            try:
                self._call = self._stub.Watch(self._cursor.request(), metadata=with_trace_context(self._metadata))
                if self._closed.is_set():  # close() ran before the call existed
                    self._call.cancel()
                for message in self._call:
                    if self._cursor.deliver(message):
                        yield message
                delay = self._cursor.backoff.next()  # the server ended the stream (shutting down): resume
            except grpc.RpcError as err:
                if self._closed.is_set():
                    return
                delay = self._cursor.failed(err)
            self._closed.wait(delay)

    def close(self) -> None:
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()


class AsyncWatch:
    """`AsyncBreakerbox.watch()`: `async for` it, as `Watch`."""

    def __init__(self, stub: Any, metadata: tuple[tuple[str, str], ...], cursor: WatchCursor) -> None:
        self._stub, self._metadata, self._cursor = stub, metadata, cursor
        self._closed = False
        self._call: Any = None

    @property
    def resume_token(self) -> str:
        return self._cursor.resume_token

    async def __aiter__(self) -> AsyncIterator[pb.WatchResponse]:
        while not self._closed:
            try:
                self._call = self._stub.Watch(self._cursor.request(), metadata=with_trace_context(self._metadata))
                async for message in self._call:
                    if self._cursor.deliver(message):
                        yield message
                delay = self._cursor.backoff.next()
            except asyncio.CancelledError:
                if self._closed:
                    return
                raise
            except grpc.RpcError as err:
                if self._closed:
                    return
                delay = self._cursor.failed(err)
            await asyncio.sleep(delay)

    def close(self) -> None:
        self._closed = True
        call = self._call
        if call is not None:
            call.cancel()
