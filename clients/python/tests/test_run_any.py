"""run_any (AcquireAny): the first candidate circuit that admits the call, on both clients, against a live server."""

from __future__ import annotations

from typing import Any

import pytest

from breakerbox import AllCircuitsOpenError, AsyncBreakerbox, Breakerbox, CircuitOpenError
from conftest import FAILURE_THRESHOLD, OPEN_SECONDS, AsyncCounting, Counting, stats


def fail(circuit: str) -> str:
    raise RuntimeError(f"{circuit} down")


def trip(address: str, circuit: str) -> None:
    with Breakerbox(address) as bb:
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError):
                bb.run(circuit, lambda: fail(circuit))


def test_the_first_admitting_candidate_gets_the_call_and_its_report(address: str, admin: Any, circuit: str) -> None:
    primary, backup = f"{circuit}.primary", f"{circuit}.backup"
    with Breakerbox(address) as bb:
        assert bb.run_any([primary, backup], lambda c: f"answered by {c}") == f"answered by {primary}"
        # Failures count on the candidate that was called, and open it.
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(RuntimeError, match="primary down"):
                bb.run_any([primary, backup], fail)
        bb.flush()
        assert stats(admin, primary)[0] == "OPEN"
        # Now the backup answers.
        assert bb.run_any([primary, backup], lambda c: f"answered by {c}") == f"answered by {backup}"
    assert stats(admin, primary) == ("OPEN", {"successes": 1, "failures": 3, "timeouts": 0, "ignored": 0, "rejections": 1})
    assert stats(admin, backup) == ("CLOSED", {"successes": 1, "failures": 0, "timeouts": 0, "ignored": 0, "rejections": 0})


def test_denied_by_every_candidate_raises_all_of_their_denials_or_gives_the_fallback(address: str, admin: Any, circuit: str) -> None:
    primary, backup = f"{circuit}.primary", f"{circuit}.backup"
    trip(address, primary)
    trip(address, backup)
    called: list[str] = []
    counting = Counting()
    with Breakerbox(address, interceptors=[counting]) as bb:
        with pytest.raises(AllCircuitsOpenError) as denied:
            bb.run_any([primary, backup], called.append)
        e = denied.value
        assert isinstance(e, CircuitOpenError)
        assert [(d.circuit, d.state, d.reason, d.local) for d in e.denials] == [(primary, "OPEN", "OPEN", False), (backup, "OPEN", "OPEN", False)]
        soonest = min(e.denials, key=lambda d: d.retry_after)
        assert (e.circuit, e.retry_after) == (soonest.circuit, soonest.retry_after)
        assert 0 < e.retry_after <= OPEN_SECONDS
        assert e.local is False
        assert counting.calls["AcquireAny"] == 1
        # Both are known OPEN now: denied locally, without asking Breakerbox.
        local = bb.run_any([primary, backup], called.append, fallback=lambda err: err)
        assert isinstance(local, AllCircuitsOpenError) and local.local is True
        assert [d.local for d in local.denials] == [True, True]
        assert counting.calls["AcquireAny"] == 1
    assert called == []
    assert stats(admin, primary)[1]["rejections"] == 1


def test_a_candidate_known_open_is_not_asked_about(address: str, admin: Any, circuit: str) -> None:
    primary, backup = f"{circuit}.primary", f"{circuit}.backup"
    trip(address, primary)
    with Breakerbox(address) as bb:
        with pytest.raises(CircuitOpenError):
            bb.run(primary, lambda: "never")
        assert bb.run_any([primary, backup], lambda c: c) == backup
    # Only run's Acquire met the OPEN primary: run_any skipped it.
    assert stats(admin, primary)[1]["rejections"] == 1


def test_fail_open_picks_the_first_candidate_its_local_breakers_admit(refused_address: str) -> None:
    with Breakerbox(refused_address, service_retry=600, local_failure_threshold=1, close_timeout=0.1) as bb:
        with pytest.raises(RuntimeError):
            bb.run_any(["py.a", "py.b"], fail)
        assert bb.run_any(["py.a", "py.b"], lambda c: c) == "py.b"
    with Breakerbox(refused_address, on_unavailable="fail_closed", service_retry=600, close_timeout=0.1) as bb:
        with pytest.raises(AllCircuitsOpenError) as denied:
            bb.run_any(["py.a", "py.b"], lambda c: c)
        assert [d.reason for d in denied.value.denials] == ["SERVICE_UNAVAILABLE", "SERVICE_UNAVAILABLE"]


def test_no_candidate_is_a_mistake(address: str) -> None:
    with Breakerbox(address) as bb, pytest.raises(ValueError, match="at least one"):
        bb.run_any([], lambda c: c)


async def test_async_run_any_fails_over_and_reports_on_the_chosen_circuit(address: str, admin: Any, circuit: str) -> None:
    primary, backup = f"{circuit}.primary", f"{circuit}.backup"
    trip(address, primary)
    counting = AsyncCounting()

    async def answer(c: str) -> str:
        return f"answered by {c}"

    async with AsyncBreakerbox(address, interceptors=[counting]) as bb:
        assert await bb.run_any([primary, backup], answer) == f"answered by {backup}"
        assert await bb.run_any([primary, backup], lambda c: c) == backup  # a plain function too
        trip(address, backup)
        with pytest.raises(AllCircuitsOpenError):
            await bb.run_any([backup], answer)

        async def cached(err: CircuitOpenError) -> str:
            return f"cached ({len(getattr(err, 'denials', []))} denials)"

        assert await bb.run_any([primary, backup], answer, fallback=cached) == "cached (2 denials)"
        # The first call learnt the primary is OPEN, the third the backup: the fourth asked nobody.
        assert counting.calls["AcquireAny"] == 3
    assert stats(admin, backup)[1]["successes"] == 2
