"""What the Python client costs a call: run it with the client venv's python
(scripts/install-python-client.sh builds .tools/python-client-venv) against
a running Breakerbox (memory store, loopback):

    .tools/python-client-venv/bin/python bench/client-overhead/python_overhead.py 127.0.0.1:50051 [--calls 2000]

For the sync client (`Breakerbox`) and then the asyncio one
(`AsyncBreakerbox`) it times, call by call, after a warm-up:

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

WARMUP = 200


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def rank(p: float) -> float:  # nearest rank
        return round(ordered[max(0, min(len(ordered) - 1, int(p * len(ordered) + 0.5) - 1))] / 1000, 1)

    return {"p50": rank(0.50), "p99": rank(0.99)}


def timed(fn: Callable[[], Any], calls: int) -> list[int]:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


async def atimed(fn: Callable[[], Awaitable[Any]], calls: int) -> list[int]:
    for _ in range(WARMUP):
        await fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        await fn()
        samples.append(time.perf_counter_ns() - start)
    return samples


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
            "direct_us": percentiles(timed(answer, calls)),
            "guarded_us": percentiles(timed(lambda: bb.run(f"{prefix}.guarded", answer), calls)),
            "acquire_rtt_us": percentiles(timed(lambda: bb.stub.Acquire(request, timeout=5), calls)),
        }
        opened = f"{prefix}.open"
        while True:  # fail until Breakerbox denies: the client then knows the circuit OPEN
            try:
                bb.run(opened, fail)
            except RuntimeError:
                bb.flush(10)
            except CircuitOpenError:
                break
        result["open_guarded_us"] = percentiles(timed(lambda: bb.run(opened, answer, fallback=lambda err: "fallback"), calls))
        return result


async def async_client(address: str, calls: int) -> dict[str, Any]:
    prefix = f"bench.py-async.{uuid.uuid4().hex[:8]}"
    async with AsyncBreakerbox(address) as bb:
        request = pb.AcquireRequest(circuit=f"{prefix}.acquire", agent_instance_id="bench")
        result = {
            "client": "python-asyncio",
            "runtime": runtime(),
            "calls": calls,
            "direct_us": percentiles(await atimed(aanswer, calls)),
            "guarded_us": percentiles(await atimed(lambda: bb.run(f"{prefix}.guarded", aanswer), calls)),
            "acquire_rtt_us": percentiles(await atimed(lambda: bb.stub.Acquire(request, timeout=5), calls)),
        }
        opened = f"{prefix}.open"
        while True:
            try:
                await bb.run(opened, fail)
            except RuntimeError:
                await bb.flush(10)
            except CircuitOpenError:
                break
        result["open_guarded_us"] = percentiles(await atimed(lambda: bb.run(opened, aanswer, fallback=lambda err: "fallback"), calls))
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
