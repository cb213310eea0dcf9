"""The report queue: retried with jitter while Breakerbox is unavailable, bounded, flushed on close."""

from __future__ import annotations

import random
from typing import Any

import grpc

from breakerbox import Breakerbox
from breakerbox._report_queue import PendingReports
from breakerbox.v1 import breakerbox_pb2 as pb
from conftest import Counting, stats


class Unavailable(grpc.RpcError):
    """What a failed call raises, as grpcio's own errors do (code, details, trailers)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "injected"

    def trailing_metadata(self) -> tuple[()]:
        return ()


def test_a_batch_that_meets_unavailable_is_sent_again(address: str, admin: Any, circuit: str) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    failures_left = [2]

    def before(name: str) -> None:
        if name == "BatchReport" and failures_left[0] > 0:
            failures_left[0] -= 1
            raise Unavailable()

    counting = Counting(before=before)
    with Breakerbox(address, interceptors=[counting], rng=random.Random(seed)) as bb:
        assert bb.run(circuit, lambda: "ok") == "ok"
    assert counting.calls["BatchReport"] == 3
    assert stats(admin, circuit)[1]["successes"] == 1


def test_a_full_queue_drops_its_oldest_reports() -> None:
    pending = PendingReports(3, lambda delay: None, lambda: None)
    for i in range(5):
        pending.put(pb.ReportRequest(circuit=f"c{i}"))
    assert pending.dropped == 2
    assert [r.circuit for r in pending.take()] == ["c2", "c3", "c4"]


def test_batches_hold_at_most_100_reports() -> None:
    pending = PendingReports(1000, lambda delay: None, lambda: None)
    for i in range(150):
        pending.put(pb.ReportRequest(circuit=f"c{i}"))
    assert [len(pending.take()), len(pending.take()), len(pending.take())] == [100, 50, 0]
