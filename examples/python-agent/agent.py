"""A small agent that calls a flaky dependency through Breakerbox.

    python agent.py [--circuit NAME] [--calls N] [--fail-from K] [--failures F] ...

It makes `--calls` calls with breaker.run(): the dependency (a stand-in for an
HTTP tool) fails on its calls K to K+F-1 with HTTP 503, then works again.
Denied calls get a fallback at once instead of waiting on a dead dependency.
A Watch, in a background thread, prints every state change the service
announces. Start the server with short durations to watch the circuit open
and close within the run (README.md beside this file).

Environment: BREAKERBOX_ADDRESS (default localhost:50051); BREAKERBOX_API_KEY,
sent as `authorization: Bearer <key>` when the server has access control on.
Exit status: 0 when done (calls go on without permits while Breakerbox is
unreachable), 1 when Breakerbox refused us or did not answer at the start (the
message says why), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import Any

import grpc

from breaker import BreakerboxError, Denied, Watcher, connect, run, state_name
from breakerbox.v1 import breakerbox_pb2 as pb

log = logging.getLogger("agent")
_print_lock = threading.Lock()


def say(line: str) -> None:
    """One whole line to stdout: the Watch thread prints too."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class ToolError(Exception):
    """What an HTTP client raises for a 5xx: a status and the response headers."""

    def __init__(self, message: str, status: int, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


class FlakyTool:
    """The dependency: fails on its calls `fail_from` .. `fail_from + failures - 1`.

    With `retry_after`, its failures carry `Retry-After: <seconds>`, as a
    rate-limited API's would; breaker.run() passes that on with the Report.
    """

    def __init__(self, fail_from: int, failures: int, retry_after: int | None) -> None:
        self.calls = 0
        self._failing = range(fail_from, fail_from + failures)
        self._headers = {} if retry_after is None else {"Retry-After": str(retry_after)}

    def __call__(self) -> str:
        self.calls += 1
        if self.calls in self._failing:
            raise ToolError(f"tool failed on call {self.calls}", 503, self._headers)
        return f"result {self.calls}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Call a flaky tool through Breakerbox and print what happens.")
    parser.add_argument("--circuit", default="example.flaky-tool", help="circuit name (default: %(default)s)")
    parser.add_argument("--calls", type=int, default=40, help="calls to make (default: %(default)s)")
    parser.add_argument("--fail-from", type=int, default=5, help="the tool's first failing call (default: %(default)s)")
    parser.add_argument("--failures", type=int, default=4, help="failing calls in a row (default: %(default)s)")
    parser.add_argument("--retry-after", type=int, default=None, metavar="SECONDS", help="Retry-After on the tool's failures (default: none)")
    parser.add_argument("--pause", type=float, default=0.1, metavar="SECONDS", help="pause between calls (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="SECONDS", help="per-call timeout (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Warnings (Breakerbox unreachable, Watch reconnecting) go to stderr.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    address = os.environ.get("BREAKERBOX_ADDRESS", "localhost:50051")
    channel, stub = connect(address, api_key=os.environ.get("BREAKERBOX_API_KEY"))

    def print_transition(event: pb.CircuitEvent) -> None:
        say(f"watch: {state_name(event.from_state)} -> {state_name(event.to_state)} ({event.reason})")

    watcher = Watcher(stub, [args.circuit], on_event=print_transition).start()
    tool = FlakyTool(args.fail_from, args.failures, args.retry_after)
    fallbacks = 0

    def fallback(denied: Denied) -> str:
        nonlocal fallbacks
        fallbacks += 1
        return f"fallback (circuit {denied.state}, retry in {round(denied.retry_after * 1000)} ms)"

    try:
        # The snapshot first: every transition after it reaches print_transition.
        try:
            watcher.wait_ready(timeout=10.0)
        except TimeoutError as err:
            print(f"error: {err}: is Breakerbox running at {address}? (`npm start` in the repository root)", file=sys.stderr)
            return 1
        for i in range(1, args.calls + 1):
            try:
                say(f"call {i}: {run(stub, args.circuit, tool, fallback, timeout=args.timeout)}")
            except BreakerboxError:
                raise
            except Exception as err:
                say(f"call {i}: error: {err}")
            time.sleep(args.pause)
        # Let the Watch catch up with the circuit's last transition before saying done.
        try:
            status = stub.GetState(pb.GetStateRequest(circuit=args.circuit), timeout=5.0).status
        except grpc.RpcError as err:
            call: Any = err  # grpcio's RpcError is also a grpc.Call
            log.warning("could not read the circuit's final state (%s: %s)", call.code().name, call.details())
        else:
            if not watcher.wait_for_generation(args.circuit, status.generation, timeout=5.0):
                log.warning("Watch did not deliver the circuit's last transition within 5 s")
        say(f"done: {args.calls} calls, {fallbacks} fallbacks")
        return 0
    except KeyboardInterrupt:
        say(f"interrupted: {tool.calls} tool calls, {fallbacks} fallbacks")
        return 130
    except BreakerboxError as err:
        hint = ""
        if err.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            hint = " (set BREAKERBOX_API_KEY to an agent key of the server's BREAKERBOX_API_KEYS)"
        print(f"error: {err}{hint}", file=sys.stderr)
        return 1
    finally:
        watcher.close()
        channel.close()


if __name__ == "__main__":
    sys.exit(main())
