"""fail_open / fail_closed when Breakerbox cannot be reached, and the "service down" memo."""

from __future__ import annotations

import pytest

from breakerbox import AsyncBreakerbox, Breakerbox, CircuitOpenError
from conftest import AsyncCounting, Counting


def fail() -> None:
    raise RuntimeError("dependency down")


@pytest.mark.parametrize("where", ["refused", "blackhole"])
def test_fail_open_calls_the_dependency_and_asks_breakerbox_once(where: str, refused_address: str, blackhole_address: str) -> None:
    counting = Counting()
    address = refused_address if where == "refused" else blackhole_address
    with Breakerbox(address, interceptors=[counting], rpc_timeout=0.2, service_retry=600, close_timeout=0.1) as bb:
        assert [bb.run("py.down", lambda i=i: i) for i in range(5)] == [0, 1, 2, 3, 4]
        assert counting.calls["Acquire"] == 1


def test_fail_open_guards_each_circuit_with_a_local_breaker(refused_address: str) -> None:
    counting = Counting()
    called = []
    with Breakerbox(refused_address, interceptors=[counting], service_retry=600, local_failure_threshold=2, close_timeout=0.1) as bb:
        for _ in range(2):
            with pytest.raises(RuntimeError):
                bb.run("py.local", fail)
        with pytest.raises(CircuitOpenError) as denied:
            bb.run("py.local", lambda: called.append(1))
        assert (denied.value.local, denied.value.reason) == (True, "OPEN")
        assert denied.value.retry_after > 0
        # Another circuit has its own local breaker.
        assert bb.run("py.other", lambda: "ok") == "ok"
        assert counting.calls["Acquire"] == 1
        assert counting.calls["BatchReport"] == 0  # local outcomes stay local
    assert called == []


def test_fail_closed_denies_without_calling_and_asks_breakerbox_once(refused_address: str) -> None:
    counting = Counting()
    called = []
    with Breakerbox(refused_address, interceptors=[counting], on_unavailable="fail_closed", service_retry=600, close_timeout=0.1) as bb:
        with pytest.raises(CircuitOpenError) as denied:
            bb.run("py.closed", lambda: called.append(1))
        assert (denied.value.reason, denied.value.local) == ("SERVICE_UNAVAILABLE", True)
        assert 0 < denied.value.retry_after <= 600
        assert bb.run("py.closed", lambda: called.append(1), fallback=lambda e: "fallback") == "fallback"
        with pytest.raises(CircuitOpenError), bb.guarded("py.closed"):
            called.append(1)
        assert counting.calls["Acquire"] == 1
    assert called == []


def test_the_memo_expires_and_breakerbox_is_asked_again(refused_address: str) -> None:
    now = [0.0]
    counting = Counting()
    with Breakerbox(refused_address, interceptors=[counting], service_retry=5, clock=lambda: now[0], close_timeout=0.1) as bb:
        bb.run("py.memo", lambda: 1)
        now[0] = 4.999
        bb.run("py.memo", lambda: 1)
        assert counting.calls["Acquire"] == 1
        now[0] = 5.0
        bb.run("py.memo", lambda: 1)
        assert counting.calls["Acquire"] == 2


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="on_unavailable"):
        Breakerbox("127.0.0.1:1", on_unavailable="maybe")


@pytest.mark.parametrize("policy", ["fail_open", "fail_closed"])
async def test_async_client_asks_an_unreachable_breakerbox_once(policy: str, blackhole_address: str) -> None:
    counting = AsyncCounting()
    called = []

    async def fn() -> str:
        called.append(1)
        return "ok"

    async with AsyncBreakerbox(blackhole_address, interceptors=[counting], on_unavailable=policy, rpc_timeout=0.2, service_retry=600, close_timeout=0.1) as bb:
        results = [await bb.run("py.async-down", fn, fallback=lambda e: e.reason) for _ in range(4)]
    assert counting.calls["Acquire"] == 1
    if policy == "fail_open":
        assert (results, len(called)) == (["ok"] * 4, 4)
    else:
        assert (results, called) == (["SERVICE_UNAVAILABLE"] * 4, [])
