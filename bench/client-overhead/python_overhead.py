"""What the Python client costs a call: run it with the client venv's python
(scripts/install-python-client.sh builds .tools/python-client-venv) against
a running Breakerbox (memory store, loopback):

    .tools/python-client-venv/bin/python bench/client-overhead/python_overhead.py 127.0.0.1:50051 [--calls 2000]

For the sync client (`Breakerbox`) and then the asyncio one
(`AsyncBreakerbox`) it times, call by call, after warming up every path
(WARMUP calls each), the direct call, the guarded call and the raw Acquire
in alternating blocks (BLOCKS of them, each path's samples pooled), so the
guarded call and the Acquire see the same background noise and warm state
instead of one running after the other:

- direct_us: the guarded function (it returns at once) called directly;
- guarded_us: the same function through `run` (Acquire, the call, the Report
  queued: `run` does not wait for it; the background sender shares the
  process meanwhile, as it does in an agent);
- acquire_rtt_us: the bare Acquire RPC on the client's own stub;
- open_guarded_us: `run` on a circuit known OPEN (after a denial): decided
  locally, the fallback's value returned, no RPC.

and prints one JSON line per client, times in microseconds (p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
import uuid
from typing import Any, Awaitable, Callable

from breakerbox import AsyncBreakerbox, Breakerbox, CircuitOpenError
from breakerbox.v1 import breakerbox_pb2 as pb

WARMUP = 1000
#: Alternating blocks the direct, guarded and Acquire calls are timed in.
BLOCKS = 10


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def rank(p: float) -> float:  # nearest rank
        return round(ordered[max(0, min(len(ordered) - 1, int(p * len(ordered) + 0.5) - 1))] / 1000, 1)

    return {"p50": rank(0.50), "p99": rank(0.99)}


def block_sizes(calls: int) -> list[int]:
    return [calls // BLOCKS + (1 if b < calls % BLOCKS else 0) for b in range(BLOCKS)]


def timed(fn: Callable[[], Any], calls: int, samples: list[int] | None = None) -> list[int]:
    """Appends the durations of `calls` calls of fn to samples."""
    samples = [] if samples is None else samples
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


async def atimed(fn: Callable[[], Awaitable[Any]], calls: int, samples: list[int] | None = None) -> list[int]:
    samples = [] if samples is None else samples
    for _ in range(calls):
        start = time.perf_counter_ns()
        await fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


def interleaved(direct: Callable[[], Any], guarded: Callable[[], Any], acquire: Callable[[], Any], flush: Callable[[], Any], calls: int) -> dict[str, Any]:
    """Warms every path up, then times them in alternating blocks."""
    for fn in (direct, guarded, acquire):
        timed(fn, WARMUP)
    flush()
    samples: dict[str, list[int]] = {"direct_us": [], "guarded_us": [], "acquire_rtt_us": []}
    for n in block_sizes(calls):
        timed(direct, n, samples["direct_us"])
        timed(guarded, n, samples["guarded_us"])
        flush()  # untimed: the Acquire block starts without the guarded block's Reports still queued
        timed(acquire, n, samples["acquire_rtt_us"])
    return {name: percentiles(s) for name, s in samples.items()}


async def ainterleaved(
    direct: Callable[[], Awaitable[Any]],
    guarded: Callable[[], Awaitable[Any]],
    acquire: Callable[[], Awaitable[Any]],
    flush: Callable[[], Awaitable[Any]],
    calls: int,
) -> dict[str, Any]:
    """As interleaved, for the asyncio client."""
    for fn in (direct, guarded, acquire):
        await atimed(fn, WARMUP)
    await flush()
    samples: dict[str, list[int]] = {"direct_us": [], "guarded_us": [], "acquire_rtt_us": []}
    for n in block_sizes(calls):
        await atimed(direct, n, samples["direct_us"])
        await atimed(guarded, n, samples["guarded_us"])
        await flush()
        await atimed(acquire, n, samples["acquire_rtt_us"])
    return {name: percentiles(s) for name, s in samples.items()}


def fail() -> None:
    raise RuntimeError("down")


def answer() -> str:
    return "ok"


async def aanswer() -> str:
    return "ok"


def runtime() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def sync_client(address: str, calls: int) -> dict[str, Any]:
    prefix = f"bench.py-sync.{uuid.uuid4().hex[:8]}"
    with Breakerbox(address) as bb:
        request = pb.AcquireRequest(circuit=f"{prefix}.acquire", agent_instance_id="bench")
        result = {
            "client": "python",
            "runtime": runtime(),
            "calls": calls,
            **interleaved(
                answer,
                lambda: bb.run(f"{prefix}.guarded", answer),
                lambda: bb.stub.Acquire(request, timeout=5),
                lambda: bb.flush(10),
                calls,
            ),
        }
        opened = f"{prefix}.open"
        while True:  # fail until Breakerbox denies: the client then knows the circuit OPEN
            try:
                bb.run(opened, fail)
            except RuntimeError:
                bb.flush(10)
            except CircuitOpenError:
                break
        def open_run() -> str:
            return bb.run(opened, answer, fallback=lambda err: "fallback")

        timed(open_run, WARMUP)
        result["open_guarded_us"] = percentiles(timed(open_run, calls))
        return result


async def async_client(address: str, calls: int) -> dict[str, Any]:
    prefix = f"bench.py-async.{uuid.uuid4().hex[:8]}"
    async with AsyncBreakerbox(address) as bb:
        request = pb.AcquireRequest(circuit=f"{prefix}.acquire", agent_instance_id="bench")
        result = {
            "client": "python-asyncio",
            "runtime": runtime(),
            "calls": calls,
            **await ainterleaved(
                aanswer,
                lambda: bb.run(f"{prefix}.guarded", aanswer),
                lambda: bb.stub.Acquire(request, timeout=5),
                lambda: bb.flush(10),
                calls,
            ),
        }
        opened = f"{prefix}.open"
        while True:
            try:
                await bb.run(opened, fail)
            except RuntimeError:
                await bb.flush(10)
            except CircuitOpenError:
                break
        def open_run() -> Awaitable[str]:
            return bb.run(opened, aanswer, fallback=lambda err: "fallback")

        await atimed(open_run, WARMUP)
        result["open_guarded_us"] = percentiles(await atimed(open_run, calls))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="Breakerbox's gRPC host:port")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(sync_client(args.address, args.calls)), flush=True)
    print(json.dumps(asyncio.run(async_client(args.address, args.calls))), flush=True)


if __name__ == "__main__":
    main()
