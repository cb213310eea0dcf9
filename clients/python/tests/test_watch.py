"""watch(): transitions from a live server, resume by token, known-OPEN from Watch, and reconnect delays."""

from __future__ import annotations

import queue
import random
import threading
from typing import Any

import grpc
import pytest

from breakerbox import AsyncBreakerbox, Breakerbox, BreakerboxError, CircuitOpenError
from breakerbox._admission import Gate
from breakerbox._local_breaker import LocalBreakers
from breakerbox._report_queue import Backoff
from breakerbox._watch import WatchCursor
from breakerbox.v1 import breakerbox_pb2 as pb
from conftest import FAILURE_THRESHOLD, Counting

WAIT = 10  # seconds a queue read waits before the test gives up (a hang guard, not an assertion)


def kinds_until(messages: "queue.Queue[Any]", stop: Any) -> list[str]:
    seen = []
    while True:
        m = messages.get(timeout=WAIT)
        kind = m.WhichOneof("kind")
        seen.append(kind if kind != "event" else f"event {pb.State.Name(m.event.to_state)}")
        if stop(m):
            return seen


def trip(address: str, circuit: str) -> None:
    def fail() -> None:
        raise RuntimeError("down")

    with Breakerbox(address) as bb:
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError):
                bb.run(circuit, fail)


def test_watch_delivers_transitions_feeds_fail_fast_and_resumes_by_token(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as first:
        assert first.run(circuit, lambda: 1) == 1
    counting = Counting()
    with Breakerbox(address, interceptors=[counting]) as bb:
        messages: queue.Queue[Any] = queue.Queue()
        w = bb.watch([circuit])
        thread = threading.Thread(target=lambda: [messages.put(m) for m in w])
        thread.start()
        assert kinds_until(messages, lambda m: m.HasField("snapshot_complete")) == ["snapshot", "snapshot_complete"]
        trip(address, circuit)
        assert kinds_until(messages, lambda m: m.HasField("event")) == ["event STATE_OPEN"]
        token = w.resume_token
        # Known OPEN from Watch alone: no Acquire, fn not called.
        with pytest.raises(CircuitOpenError) as denied:
            bb.run(circuit, lambda: pytest.fail("called"))
        assert (denied.value.local, counting.calls["Acquire"]) == (True, 0)
        w.close()
        thread.join(WAIT)
        assert not thread.is_alive()

    admin.Reset(pb.ResetRequest(circuit=circuit), timeout=5)
    with Breakerbox(address) as bb:
        resumed = bb.watch([circuit], resume_token=token)
        first_message = next(iter(resumed))
        resumed.close()
    assert (first_message.WhichOneof("kind"), pb.State.Name(first_message.event.to_state)) == ("event", "STATE_CLOSED")


async def test_async_watch_delivers_a_snapshot_then_transitions(address: str, circuit: str) -> None:
    async with AsyncBreakerbox(address) as bb:
        await bb.run(circuit, lambda: 1)
        w = bb.watch([circuit])
        seen = []
        async for m in w:
            kind = m.WhichOneof("kind")
            seen.append(kind if kind != "event" else f"event {pb.State.Name(m.event.to_state)}")
            if kind == "snapshot_complete":
                await asyncio_to_thread(trip, address, circuit)
            if kind == "event":
                w.close()
        assert seen == ["snapshot", "snapshot_complete", "event STATE_OPEN"]


async def asyncio_to_thread(fn: Any, *args: Any) -> None:
    import asyncio

    await asyncio.to_thread(fn, *args)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "fake"

    def trailing_metadata(self) -> tuple[()]:
        return ()


def test_reconnect_delays_are_jittered_and_grow_and_only_outages_reconnect() -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    cursor = WatchCursor(["c"], "", "tok", Gate("fail_open", lambda: 0.0, 5, LocalBreakers(5, 30, lambda: 0.0)), Backoff(0.1, 5.0, random.Random(seed)))
    delays = [cursor.failed(FakeRpcError(grpc.StatusCode.UNAVAILABLE)) for _ in range(8)]
    caps = [min(5.0, 0.1 * 2**i) for i in range(8)]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps)), (seed, delays)
    assert cursor.resume_token == "tok"
    assert cursor.failed(FakeRpcError(grpc.StatusCode.OUT_OF_RANGE)) == 0.0
    assert cursor.resume_token == ""
    with pytest.raises(BreakerboxError):
        cursor.failed(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT))
