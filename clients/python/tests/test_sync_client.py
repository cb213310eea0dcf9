"""Breakerbox (sync) against a live server."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any, Iterator

import pytest

from breakerbox import Breakerbox, BreakerboxError, CircuitOpenError
from conftest import FAILURE_THRESHOLD, OPEN_SECONDS, Counting, HttpError, stats


def fail() -> None:
    raise RuntimeError("dependency down")


def trip(address: str, circuit: str) -> None:
    with Breakerbox(address) as bb:
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError):
                bb.run(circuit, fail)


def test_an_allowed_call_returns_its_result_and_reports_success(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as bb:
        assert bb.run(circuit, lambda: 42) == 42
    assert stats(admin, circuit) == ("CLOSED", {"successes": 1, "failures": 0, "timeouts": 0, "ignored": 0, "rejections": 0})


def test_failures_trip_the_circuit(address: str, admin: Any, circuit: str) -> None:
    trip(address, circuit)
    state, counts = stats(admin, circuit)
    assert (state, counts["failures"]) == ("OPEN", FAILURE_THRESHOLD)


def test_a_denial_raises_circuit_open_error_then_fails_fast_locally_without_an_rpc(address: str, admin: Any, circuit: str) -> None:
    trip(address, circuit)
    counting = Counting()
    called = []
    with Breakerbox(address, interceptors=[counting]) as bb:
        with pytest.raises(CircuitOpenError) as denied:
            bb.run(circuit, lambda: called.append(1))
        e = denied.value
        assert (e.circuit, e.state, e.reason, e.local) == (circuit, "OPEN", "OPEN", False)
        assert 0 < e.retry_after <= OPEN_SECONDS
        assert counting.calls["Acquire"] == 1
        # Known OPEN now: the fallback answers, without Breakerbox and without fn.
        seen: list[CircuitOpenError] = []
        assert bb.run(circuit, lambda: called.append(1), fallback=lambda err: seen.append(err) or "cached") == "cached"
        assert (seen[0].local, seen[0].reason) == (True, "OPEN")
        assert 0 < seen[0].retry_after <= e.retry_after
        with pytest.raises(CircuitOpenError), bb.guarded(circuit):
            called.append(1)
        assert counting.calls["Acquire"] == 1
    assert called == []
    assert stats(admin, circuit)[1]["rejections"] == 1


def test_guarded_reports_each_outcome(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as bb:
        with bb.guarded(circuit):
            pass
        with pytest.raises(HttpError), bb.guarded(circuit):
            raise HttpError(404)
        with pytest.raises(TimeoutError), bb.guarded(circuit):
            raise TimeoutError()
        with pytest.raises(HttpError), bb.guarded(circuit):
            raise HttpError(503, {"Retry-After": "1"})
    # total_failures includes TIMEOUT.
    assert stats(admin, circuit) == ("CLOSED", {"successes": 1, "failures": 2, "timeouts": 1, "ignored": 1, "rejections": 0})


def test_guard_decorates_a_function_and_passes_its_arguments_to_the_fallback(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as bb:

        @bb.guard(circuit, fallback=lambda err, x: f"fallback {x}")
        def double(x: int) -> Any:
            if x < 0:
                raise RuntimeError("negative")
            return 2 * x

        assert double(21) == 42
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError):
                double(-1)
        bb.close()
    with Breakerbox(address) as bb2:
        assert bb2.guard(circuit, fallback=lambda err, x: f"fallback {x}")(lambda x: 2 * x)(5) == "fallback 5"
    assert stats(admin, circuit)[0] == "OPEN"


def test_run_returns_before_its_report_is_sent_and_close_flushes_the_queue(address: str, admin: Any, circuit: str) -> None:
    release = threading.Event()
    counting = Counting(before=lambda name: release.wait() if name == "BatchReport" else None)
    bb = Breakerbox(address, interceptors=[counting])
    # The report thread is stuck in BatchReport until released; run still returns.
    assert [bb.run(circuit, lambda i=i: i) for i in range(50)] == list(range(50))
    assert stats(admin, circuit)[1]["successes"] == 0
    release.set()
    bb.close()
    assert stats(admin, circuit)[1]["successes"] == 50
    assert bb.dropped_reports == 0


def test_a_stream_is_reported_when_it_ends_not_when_returned(address: str, admin: Any, circuit: str) -> None:
    def chunks(fail_after: int | None) -> Iterator[str]:
        for i in range(3):
            if i == fail_after:
                raise HttpError(500)
            yield f"chunk {i}"

    with Breakerbox(address) as bb:
        assert list(bb.run_stream(circuit, lambda: chunks(None))) == ["chunk 0", "chunk 1", "chunk 2"]
        received = []
        with pytest.raises(HttpError):
            for c in bb.run_stream(circuit, lambda: chunks(2)):
                received.append(c)
        assert received == ["chunk 0", "chunk 1"]
    assert stats(admin, circuit)[1] == {"successes": 1, "failures": 1, "timeouts": 0, "ignored": 0, "rejections": 0}


def test_a_timeout_reports_timeout(address: str, admin: Any, circuit: str) -> None:
    from breakerbox import CallTimeout

    never = threading.Event()
    with Breakerbox(address) as bb:
        with pytest.raises(CallTimeout):
            bb.run(circuit, never.wait, timeout=0.05)
    never.set()
    assert stats(admin, circuit)[1]["timeouts"] == 1


def test_a_refusal_to_fix_raises_breakerbox_error_by_its_reason(address: str) -> None:
    with Breakerbox(address) as bb, pytest.raises(BreakerboxError) as refused:
        bb.run("", lambda: 1)
    assert refused.value.failure.reason == "INVALID_FIELD"


def test_reports_carry_the_agent_instance_id(address: str, admin: Any, circuit: str) -> None:
    from breakerbox import default_agent_instance_id
    from breakerbox.v1 import breakerbox_pb2 as pb

    import os
    import socket

    assert default_agent_instance_id() == f"{socket.gethostname()}:{os.getpid()}"
    with Breakerbox(address, agent_instance_id="py-agent-7") as bb:
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError):
                bb.run(circuit, fail)
    entries = admin.GetHistory(pb.GetHistoryRequest(circuit=circuit), timeout=5).entries
    opened = [e.transition for e in entries if e.WhichOneof("entry") == "transition"]
    assert [pb.State.Name(t.to_state) for t in opened] == ["STATE_OPEN"]
    assert [p.agent_instance_id for p in opened[0].failure_reporters] == ["py-agent-7"]


def test_a_stream_closed_early_by_the_caller_reports_ignored(address: str, admin: Any, circuit: str) -> None:
    with Breakerbox(address) as bb:
        stream = bb.run_stream(circuit, lambda: iter(range(10)))
        assert next(stream) == 0
        stream.close()
    assert stats(admin, circuit)[1] == {"successes": 0, "failures": 0, "timeouts": 0, "ignored": 1, "rejections": 0}


def test_the_sync_guard_refuses_async_functions(address: str) -> None:
    async def coroutine_function() -> None: ...

    with Breakerbox(address) as bb, pytest.raises(TypeError, match="AsyncBreakerbox"):
        bb.guard("py.any")(coroutine_function)


def test_a_client_never_closed_still_sends_its_queued_reports_at_exit(address: str, admin: Any, circuit: str) -> None:
    # A script that guards one call and ends without close(): the daemon sender
    # would die with the interpreter; the atexit hook delivers the Report.
    program = (
        "from breakerbox import Breakerbox\n"
        f"bb = Breakerbox({address!r}, report_linger=60.0)\n"
        f"print(bb.run({circuit!r}, lambda: 'done'))\n"
    )
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, "done\n"), run.stderr
    assert stats(admin, circuit) == ("CLOSED", {"successes": 1, "failures": 0, "timeouts": 0, "ignored": 0, "rejections": 0})
