"""Reports off the caller's critical path: a bounded queue, sent in batches
with BatchReport by one background thread (`ReportQueue`) or task
(`AsyncReportQueue`), retried with jittered backoff while Breakerbox is
unreachable, and flushed on close.

A batch smaller than BATCH_SIZE first waits up to `linger` seconds (default
2 ms) for more Reports: calls made back to back then cost the service one
BatchReport per several calls instead of one per call, which otherwise
competes with the next Acquire (bench/client-overhead). A full batch, flush()
and close() cut the wait short; the backoff after a failure is separate.
The same design as the TypeScript (`report-queue.ts`) and Go (`reporter.go`)
clients."""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import threading
from typing import Any, Awaitable, Callable

import grpc

from ._details import failure_of, failure_of_status
from .v1 import breakerbox_pb2 as pb

log = logging.getLogger("breakerbox")

#: BatchReport takes 1 to 100 reports.
BATCH_SIZE = 100


class Backoff:
    """Jittered exponential delays: uniform in [d/2, d], d doubling from `base` up to `cap`."""

    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        self._base, self._cap, self._rng = base, cap, rng
        self._attempt = 0

    def next(self) -> float:
        d = min(self._cap, self._base * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 30)
        return self._rng.uniform(d / 2, d)

    def reset(self) -> None:
        self._attempt = 0


class PendingReports:
    """The bounded queue both drivers share. When full, the oldest Report is
    dropped (and counted): its permit may have expired anyway, and memory
    stays bounded through a long outage."""

    def __init__(self, max_size: int, on_unreachable: Callable[[float | None], None], on_sent: Callable[[], None]) -> None:
        self._items: collections.deque[pb.ReportRequest] = collections.deque()
        self._max = max_size
        self._on_unreachable = on_unreachable
        self._on_sent = on_sent
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, report: pb.ReportRequest) -> None:
        if len(self._items) >= self._max:
            self._items.popleft()
            self.dropped += 1
            log.warning("Breakerbox report queue full (%d): dropped the oldest Report", self._max)
        self._items.append(report)

    def take(self) -> list[pb.ReportRequest]:
        return [self._items.popleft() for _ in range(min(BATCH_SIZE, len(self._items)))]

    def settle(self, batch: list[pb.ReportRequest], response: pb.BatchReportResponse | None, err: grpc.RpcError | None) -> bool:
        """Handles a send's result; True when the batch must be retried (Breakerbox unreachable)."""
        if err is not None:
            failure = failure_of(err)
            if failure.unreachable:
                self._retry(batch)
                self._on_unreachable(failure.retry_delay)
                return True
            log.warning("Breakerbox BatchReport refused %d Reports: %s [%s]", len(batch), failure.code.name, failure.reason)
            return False
        self._on_sent()
        assert response is not None
        again: list[pb.ReportRequest] = []
        for report, result in zip(batch, response.results):
            if result.WhichOneof("result") == "error":
                failure = failure_of_status(result.error)
                if failure.unreachable:  # its store was: the permit still counts once it is back
                    again.append(report)
                else:  # PERMIT_EXPIRED and the like: it cannot count anymore
                    log.warning("Breakerbox Report for %s refused: %s [%s]", report.circuit, failure.code.name, failure.reason)
        if again:
            self._retry(again)
            return True
        return False

    def _retry(self, batch: list[pb.ReportRequest]) -> None:
        self._items.extendleft(reversed(batch))
        while len(self._items) > self._max:
            self._items.pop()
            self.dropped += 1


class ReportQueue:
    """The sync client's driver: one daemon thread sends while there are Reports."""

    def __init__(
        self, pending: PendingReports, send: Callable[[pb.BatchReportRequest], pb.BatchReportResponse], backoff: Backoff, linger: float = 0.0
    ) -> None:
        self._pending = pending
        self._send = send
        self._backoff = backoff
        self._linger = linger
        self._cond = threading.Condition()
        self._closing = False
        self._flushers = 0  # flush() calls waiting: they end the linger
        self._stopped = False
        self._sending = False  # a batch is out: not yet delivered nor put back
        self._thread = threading.Thread(target=self._loop, name="breakerbox-reports", daemon=True)
        self._thread.start()

    def put(self, report: pb.ReportRequest) -> None:
        with self._cond:
            was_empty = len(self._pending) == 0
            self._pending.put(report)
            # Wake the sender only when it has something new to do: the first
            # Report (it waits for one) or a full batch (it ends its linger).
            # Waking it on every put made it take the GIL and the lock back
            # from the caller once per guarded call.
            if was_empty or len(self._pending) >= BATCH_SIZE:
                self._cond.notify_all()

    def flush(self, timeout: float | None) -> bool:
        """Waits until no Report is queued or being sent (delivered, or refused
        for good); False when `timeout` seconds passed first."""
        with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._stopped or (not self._sending and len(self._pending) == 0), timeout)
            finally:
                self._flushers -= 1

    def close(self, timeout: float) -> None:
        """Sends what is queued, for at most `timeout` seconds; what is left then is dropped and logged."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            left = len(self._pending)
            self._pending.take()
        if left:
            log.warning("Breakerbox client closed with %d unsent Reports", left)

    def _hurry(self) -> bool:
        """The batch should go now, without lingering (called holding the lock)."""
        return self._closing or self._flushers > 0 or len(self._pending) >= BATCH_SIZE

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or len(self._pending) > 0)
                if self._stopped or len(self._pending) == 0:
                    return  # closing, all sent
                if self._linger > 0:
                    self._cond.wait_for(self._hurry, self._linger)
                    if self._stopped:
                        return
                batch = self._pending.take()
                self._sending = True
            response: Any = None
            error: grpc.RpcError | None = None
            try:
                response = self._send(pb.BatchReportRequest(reports=batch))
            except grpc.RpcError as err:
                error = err
            except Exception:  # a bug, not an outage: the loop must outlive it
                log.exception("Breakerbox BatchReport failed: dropped %d Reports", len(batch))
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()
                continue
            with self._cond:
                retry = self._pending.settle(batch, response, error)
                self._sending = False
                self._cond.notify_all()
                if retry:
                    # Also while closing: close() bounds the whole flush, then stops this loop.
                    self._cond.wait_for(lambda: self._stopped, self._backoff.next())
                else:
                    self._backoff.reset()


class AsyncReportQueue:
    """The async client's driver: one task, started on the first Report."""

    def __init__(
        self,
        pending: PendingReports,
        send: Callable[[pb.BatchReportRequest], Awaitable[pb.BatchReportResponse]],
        backoff: Backoff,
        linger: float = 0.0,
    ) -> None:
        self._pending = pending
        self._send = send
        self._backoff = backoff
        self._linger = linger
        self._flushers = 0  # flush() calls waiting: they end the linger
        self._hurry = asyncio.Event()  # ends the linger: a full batch, flush, close
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing is queued or being sent
        self._idle.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def put(self, report: pb.ReportRequest) -> None:
        self._pending.put(report)
        self._idle.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="breakerbox-reports")
        if len(self._pending) >= BATCH_SIZE:
            self._hurry.set()
        self._wake.set()

    async def flush(self, timeout: float | None) -> bool:
        """As ReportQueue.flush."""
        self._flushers += 1
        self._hurry.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            self._flushers -= 1
        return True

    async def close(self, timeout: float) -> None:
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                self._task.cancel()
        left = len(self._pending)
        self._pending.take()
        self._idle.set()
        if left:
            log.warning("Breakerbox client closed with %d unsent Reports", left)

    async def _loop(self) -> None:
        while True:
            if len(self._pending) == 0:
                self._idle.set()
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._linger > 0 and len(self._pending) < BATCH_SIZE and not self._closing and self._flushers == 0:
                self._hurry.clear()  # a flush or full batch since then was already seen above
                try:
                    await asyncio.wait_for(self._hurry.wait(), self._linger)
                except asyncio.TimeoutError:
                    pass
            batch = self._pending.take()
            response: Any = None
            error: grpc.RpcError | None = None
            try:
                response = await self._send(pb.BatchReportRequest(reports=batch))
            except grpc.RpcError as err:
                error = err
            except Exception:  # a bug, not an outage: the loop must outlive it
                log.exception("Breakerbox BatchReport failed: dropped %d Reports", len(batch))
                continue
            if self._pending.settle(batch, response, error):
                await asyncio.sleep(self._backoff.next())  # close() bounds the flush, then cancels this task
            else:
                self._backoff.reset()
