"""A small agent that calls a flaky dependency through Breakerbox, with the
`breakerbox` client package (clients/python).

    python agent.py [--circuit NAME] [--calls N] [--fail-from K] [--failures F] ...

It makes `--calls` calls with `Breakerbox.run`: the dependency (a stand-in
for an HTTP tool) fails on its calls K to K+F-1 with HTTP 503, then works
again. Denied calls get a fallback at once instead of waiting on a dead
dependency. A Watch, in a background thread, prints every state change the
service announces. Start the server with short durations to watch the
circuit open and close within the run (README.md beside this file).

Environment: BREAKERBOX_ADDRESS (default localhost:50051); BREAKERBOX_API_KEY,
sent as `authorization: Bearer <key>` when the server has access control on.
Exit status: 0 when done (calls go on under a local breaker while Breakerbox
is unreachable), 1 when Breakerbox refused us or did not answer at the start
(the message says why), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import grpc

from breakerbox import Breakerbox, BreakerboxError, CircuitOpenError
from breakerbox.v1 import breakerbox_pb2 as pb

_print_lock = threading.Lock()


def say(line: str) -> None:
    """One whole line to stdout: the Watch thread prints too."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def state_name(state: int) -> str:
    return pb.State.Name(state).removeprefix("STATE_")


class ToolError(Exception):
    """What an HTTP client raises for a 5xx: a status and the response headers,
    which breakerbox.classify_exception reads (a 503 is a FAILURE, and its
    Retry-After goes with the Report)."""

    def __init__(self, message: str, status: int, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


class FlakyTool:
    """The dependency: fails on its calls `fail_from` .. `fail_from + failures - 1`.

    With `retry_after`, its failures carry `Retry-After: <seconds>`, as a
    rate-limited API's would.
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


class Transitions:
    """Prints the circuit's transitions from a Watch in a daemon thread, and
    tells which generation of the circuit it has seen (to wait for the last)."""

    def __init__(self, bb: Breakerbox, circuit: str) -> None:
        self._watch = bb.watch([circuit])
        self._cond = threading.Condition()
        self._ready = False
        self._generation = 0
        self.error: BreakerboxError | None = None
        threading.Thread(target=self._run, name="watch", daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self._watch:
                kind = message.WhichOneof("kind")
                if kind == "event":
                    e = message.event
                    say(f"watch: {state_name(e.from_state)} -> {state_name(e.to_state)} ({e.reason})")
                    self._seen(e.generation)
                elif kind == "snapshot":
                    self._seen(message.snapshot.generation)
                elif kind == "snapshot_complete":
                    with self._cond:
                        self._ready = True
                        self._cond.notify_all()
        except BreakerboxError as err:
            with self._cond:
                self.error = err
                self._cond.notify_all()

    def _seen(self, generation: int) -> None:
        with self._cond:
            self._generation = max(self._generation, generation)
            self._cond.notify_all()

    def wait_ready(self, timeout: float) -> bool:
        """True once the snapshot is in (every later transition gets printed); raises what refused the Watch."""
        with self._cond:
            self._cond.wait_for(lambda: self._ready or self.error is not None, timeout)
            if self.error is not None:
                raise self.error
            return self._ready

    def wait_for_generation(self, generation: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._generation >= generation, timeout)

    def close(self) -> None:
        self._watch.close()


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
    address = os.environ.get("BREAKERBOX_ADDRESS", "localhost:50051")
    tool = FlakyTool(args.fail_from, args.failures, args.retry_after)
    fallbacks = 0

    def fallback(denied: CircuitOpenError) -> str:
        nonlocal fallbacks
        fallbacks += 1
        # `local`: the client knew the circuit was OPEN (an earlier denial, or
        # the Watch) and did not ask Breakerbox.
        where = ", known locally" if denied.local else ""
        return f"fallback (circuit {denied.state}{where}, retry in {round(denied.retry_after * 1000)} ms)"

    api_key = os.environ.get("BREAKERBOX_API_KEY")
    with Breakerbox(address, api_key=api_key) as bb:
        transitions = Transitions(bb, args.circuit)
        try:
            # The snapshot first: every transition after it gets printed.
            if not transitions.wait_ready(timeout=10.0):
                print(f"error: no Watch snapshot within 10 s: is Breakerbox running at {address}? (`npm start` in the repository root)", file=sys.stderr)
                return 1
            for i in range(1, args.calls + 1):
                try:
                    say(f"call {i}: {bb.run(args.circuit, tool, fallback=fallback, timeout=args.timeout)}")
                except BreakerboxError:
                    raise
                except Exception as err:
                    say(f"call {i}: error: {err}")
                time.sleep(args.pause)
            # Let the Watch catch up with the circuit's last transition before saying done.
            bb.flush(5.0)
            try:
                # bb.stub is the generated stub, for the RPCs the client does not wrap; they need the key too.
                auth = [("authorization", f"Bearer {api_key}")] if api_key else []
                status = bb.stub.GetState(pb.GetStateRequest(circuit=args.circuit), timeout=5.0, metadata=auth).status
            except grpc.RpcError as err:
                print(f"warning: could not read the circuit's final state: {err}", file=sys.stderr)
            else:
                if not transitions.wait_for_generation(status.generation, timeout=5.0):
                    print("warning: the Watch did not deliver the circuit's last transition within 5 s", file=sys.stderr)
            say(f"done: {args.calls} calls, {fallbacks} fallbacks")
            return 0
        except KeyboardInterrupt:
            say(f"interrupted: {tool.calls} tool calls, {fallbacks} fallbacks")
            return 130
        except BreakerboxError as err:
            failure = err.failure
            hint = ""
            if failure.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                hint = " (set BREAKERBOX_API_KEY to an agent key of the server's BREAKERBOX_API_KEYS)"
            print(f"error: Breakerbox {err.rpc}: {failure.code.name}: {failure.message}{hint}", file=sys.stderr)
            return 1
        finally:
            transitions.close()


if __name__ == "__main__":
    sys.exit(main())
