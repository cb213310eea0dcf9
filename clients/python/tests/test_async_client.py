"""AsyncBreakerbox against a live server."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from breakerbox import AsyncBreakerbox, CallTimeout, CircuitOpenError
from conftest import FAILURE_THRESHOLD, AsyncCounting, HttpError, stats


async def failing() -> None:
    raise HttpError(502)


async def test_run_takes_async_and_plain_functions_and_reports_success(address: str, admin: Any, circuit: str) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async with AsyncBreakerbox(address) as bb:
        assert await bb.run(circuit, answer) == 42
        assert await bb.run(circuit, lambda: 7) == 7
    assert stats(admin, circuit) == ("CLOSED", {"successes": 2, "failures": 0, "timeouts": 0, "ignored": 0, "rejections": 0})


async def test_failures_trip_then_denials_use_the_fallback_and_fail_fast_locally(address: str, admin: Any, circuit: str) -> None:
    async with AsyncBreakerbox(address) as bb:
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(HttpError):
                await bb.run(circuit, failing)
    assert stats(admin, circuit)[0] == "OPEN"

    counting = AsyncCounting()
    called = []

    async def fallback(err: CircuitOpenError) -> str:
        return f"fallback {err.reason} local={err.local}"

    async with AsyncBreakerbox(address, interceptors=[counting]) as bb:
        assert await bb.run(circuit, lambda: called.append(1), fallback=fallback) == "fallback OPEN local=False"
        assert await bb.run(circuit, lambda: called.append(1), fallback=lambda e: "plain fallback") == "plain fallback"
        with pytest.raises(CircuitOpenError) as denied:
            await bb.run(circuit, lambda: called.append(1))
        assert denied.value.local and denied.value.retry_after > 0
        assert counting.calls["Acquire"] == 1
    assert called == []
    assert stats(admin, circuit)[1]["rejections"] == 1


async def test_guard_decorates_async_functions(address: str, admin: Any, circuit: str) -> None:
    async with AsyncBreakerbox(address) as bb:

        @bb.guard(circuit, fallback=lambda err, x: -x)
        async def double(x: int) -> int:
            if x < 0:
                raise HttpError(500)
            return 2 * x

        assert await double(4) == 8
        for _ in range(FAILURE_THRESHOLD):
            with pytest.raises(HttpError):
                await double(-1)
        with pytest.raises(TypeError):
            bb.guard(circuit)(lambda: 1)
    async with AsyncBreakerbox(address) as bb:
        assert await bb.guard(circuit, fallback=lambda err, x: -x)(double.__wrapped__)(5) == -5  # type: ignore[attr-defined]
    assert stats(admin, circuit)[0] == "OPEN"


async def test_guarded_reports_each_outcome(address: str, admin: Any, circuit: str) -> None:
    async with AsyncBreakerbox(address) as bb:
        async with bb.guarded(circuit):
            await asyncio.sleep(0)
        with pytest.raises(HttpError):
            async with bb.guarded(circuit):
                raise HttpError(400)
        with pytest.raises(HttpError):
            async with bb.guarded(circuit):
                raise HttpError(429, {"retry-after-ms": "1500"})
    assert stats(admin, circuit)[1] == {"successes": 1, "failures": 1, "timeouts": 0, "ignored": 1, "rejections": 0}


async def test_a_timeout_cancels_the_call_and_reports_timeout(address: str, admin: Any, circuit: str) -> None:
    cancelled = []

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(1)
            raise

    async with AsyncBreakerbox(address) as bb:
        with pytest.raises(CallTimeout):
            await bb.run(circuit, slow, timeout=0.05)
    assert cancelled == [1]
    assert stats(admin, circuit)[1]["timeouts"] == 1


async def test_an_async_stream_is_reported_when_it_ends(address: str, admin: Any, circuit: str) -> None:
    async def tokens(fail_at: int | None) -> AsyncIterator[str]:
        for i in range(3):
            if i == fail_at:
                raise HttpError(503)
            yield str(i)

    async def open_stream() -> AsyncIterator[str]:  # like `await client.create(stream=True)`
        return tokens(None)

    async with AsyncBreakerbox(address) as bb:
        assert [t async for t in await bb.run_stream(circuit, open_stream)] == ["0", "1", "2"]
        got = []
        with pytest.raises(HttpError):
            async for t in await bb.run_stream(circuit, lambda: tokens(1)):
                got.append(t)
        assert got == ["0"]
    assert stats(admin, circuit)[1] == {"successes": 1, "failures": 1, "timeouts": 0, "ignored": 0, "rejections": 0}


async def test_close_flushes_every_queued_report(address: str, admin: Any, circuit: str) -> None:
    bb = AsyncBreakerbox(address)
    assert await asyncio.gather(*(bb.run(circuit, lambda i=i: i) for i in range(120))) == list(range(120))
    await bb.close()
    assert stats(admin, circuit)[1]["successes"] == 120


async def test_a_refusal_to_fix_raises_breakerbox_error_by_its_reason(address: str) -> None:
    from breakerbox import BreakerboxError

    async with AsyncBreakerbox(address) as bb:
        with pytest.raises(BreakerboxError) as refused:
            await bb.run("", lambda: 1)
    assert (refused.value.failure.reason, refused.value.failure.code.name) == ("INVALID_FIELD", "INVALID_ARGUMENT")
