"""The linger: a batch smaller than 100 waits for more Reports, so Reports put
back to back share one BatchReport; a full batch, flush() and close() do not
wait for it. Exact batch sizes, against a fake BatchReport."""

from __future__ import annotations

import asyncio
import random
import threading
import time

from breakerbox._report_queue import AsyncReportQueue, Backoff, PendingReports, ReportQueue
from breakerbox.v1 import breakerbox_pb2 as pb

#: Long enough that only a full batch, flush() or close() can end it within the test.
FOREVER = 60.0


class FakeBatchReport:
    """Accepts every Report and records each BatchReport's size."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.sent = threading.Condition()

    def answer(self, request: pb.BatchReportRequest) -> pb.BatchReportResponse:
        with self.sent:
            self.sizes.append(len(request.reports))
            self.sent.notify_all()
        return pb.BatchReportResponse(results=[pb.BatchReportResult(response=pb.ReportResponse()) for _ in request.reports])

    def wait_for_sizes(self, count: int) -> list[int]:
        with self.sent:
            self.sent.wait_for(lambda: len(self.sizes) >= count, 10.0)
            return list(self.sizes)


def pending() -> PendingReports:
    return PendingReports(10_000, lambda delay: None, lambda: None)


def report(i: int) -> pb.ReportRequest:
    return pb.ReportRequest(circuit=f"c{i}")


def test_reports_put_within_the_linger_share_one_batch_report() -> None:
    fake = FakeBatchReport()
    q = ReportQueue(pending(), fake.answer, Backoff(0.001, 0.004, random.Random(1)), linger=0.5)
    q.put(report(0))
    time.sleep(0.05)  # the sender has long woken up: without a linger it would send [1] now
    for i in range(1, 5):
        q.put(report(i))
    assert fake.wait_for_sizes(1) == [5]
    q.close(5.0)
    assert fake.sizes == [5]


def test_a_full_batch_flush_and_close_do_not_wait_for_the_linger() -> None:
    fake = FakeBatchReport()
    q = ReportQueue(pending(), fake.answer, Backoff(0.001, 0.004, random.Random(1)), linger=FOREVER)
    q.put(report(0))
    time.sleep(0.05)  # the sender is lingering by now: the 100th Report must end that
    for i in range(1, 100):
        q.put(report(i))
    assert fake.wait_for_sizes(1) == [100]
    q.put(report(100))
    assert q.flush(5.0) is True
    assert fake.sizes == [100, 1]
    q.put(report(101))
    q.close(5.0)
    assert fake.sizes == [100, 1, 1]


async def test_async_reports_put_within_the_linger_share_one_batch_report() -> None:
    fake = FakeBatchReport()

    async def send(request: pb.BatchReportRequest) -> pb.BatchReportResponse:
        return fake.answer(request)

    q = AsyncReportQueue(pending(), send, Backoff(0.001, 0.004, random.Random(1)), linger=0.5)
    q.put(report(0))
    await asyncio.sleep(0.05)  # the sender task has run: without a linger it would have sent [1]
    for i in range(1, 5):
        q.put(report(i))
    assert await q.flush(None) is True
    assert fake.sizes == [5]
    await q.close(5.0)


async def test_async_a_full_batch_flush_and_close_do_not_wait_for_the_linger() -> None:
    fake = FakeBatchReport()
    sent = asyncio.Event()

    async def send(request: pb.BatchReportRequest) -> pb.BatchReportResponse:
        sent.set()
        return fake.answer(request)

    q = AsyncReportQueue(pending(), send, Backoff(0.001, 0.004, random.Random(1)), linger=FOREVER)
    q.put(report(0))
    await asyncio.sleep(0.05)  # the sender task is lingering by now: the 100th Report must end that
    for i in range(1, 100):
        q.put(report(i))
    await asyncio.wait_for(sent.wait(), 10.0)
    assert fake.sizes == [100]
    q.put(report(100))
    assert await q.flush(5.0) is True
    assert fake.sizes == [100, 1]
    q.put(report(101))
    await q.close(5.0)
    assert fake.sizes == [100, 1, 1]
