"""Plays clients/conformance/scenarios.yaml, every scenario with the sync
and the async client, exactly as clients/conformance/README.md describes
the steps. It starts the harness itself (see conformance_harness.py); the
scenarios it hands over become this module's test cases, so one added to the
file is played without a change here, and a step or option this player does
not know fails the scenario instead of being skipped."""

from __future__ import annotations

import atexit
import json
import queue
import time
import uuid
from typing import Any

import pytest

from breakerbox import CircuitOpenError
from breakerbox.v1 import breakerbox_pb2 as pb
from conformance_drivers import DRIVERS, FALLBACK, Outcome
from conformance_harness import Harness

#: A scenario's `client` options, and the client's own option of each meaning (the same names).
CLIENT_OPTIONS = {"on_unavailable", "rpc_timeout", "service_retry", "local_failure_threshold", "local_open_seconds"}
#: The client's rpc_timeout when a scenario sets none (Breakerbox's default): `fast` is half of it.
DEFAULT_RPC_TIMEOUT = 2.0
LANGUAGE = {"sync": "python", "async": "python-asyncio"}
STATS = {"successes": "total_successes", "failures": "total_failures", "ignored": "total_ignored"}
PINS = {"FORCED_OPEN": pb.PIN_FORCED_OPEN, "RELEASE": pb.PIN_NONE}

_harness: Harness | None = None


def harness_process() -> Harness:
    """The one harness of this run, started when the scenarios are collected."""
    global _harness
    if _harness is None:
        _harness = Harness()
        atexit.register(_harness.close)
    return _harness


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" in metafunc.fixturenames:
        scenarios = harness_process().scenarios
        metafunc.parametrize("scenario", scenarios, ids=[s["name"] for s in scenarios])
        metafunc.parametrize("kind", list(DRIVERS))


@pytest.fixture(scope="session")
def harness() -> Any:
    h = harness_process()
    yield h
    h.close()


def test_scenario(harness: Harness, scenario: dict[str, Any], kind: str) -> None:
    options = dict(scenario.get("client") or {})
    unknown = set(options) - CLIENT_OPTIONS
    assert not unknown, f"client options this player does not know: {sorted(unknown)}"
    circuit = f"conformance.{scenario['name']}.{LANGUAGE[kind]}.{uuid.uuid4().hex[:8]}"
    driver = DRIVERS[kind](harness, circuit, options)
    player = Player(harness, driver, circuit, float(options.get("rpc_timeout", DEFAULT_RPC_TIMEOUT)))
    try:
        for index, step in enumerate(scenario["steps"], 1):
            try:
                player.step(step)
            except Exception as err:
                raise AssertionError(f"{scenario['name']} ({kind}) step {index} {json.dumps(step)}: {err}") from err
    except BaseException:
        print(harness.stderr())
        raise
    finally:
        try:
            driver.close()
        finally:
            harness.heal()


class Player:
    def __init__(self, harness: Harness, driver: Any, circuit: str, rpc_timeout: float) -> None:
        self.harness, self.driver, self.circuit, self.rpc_timeout = harness, driver, circuit, rpc_timeout

    def step(self, step: dict[str, Any]) -> None:
        action = next((key for key in ACTIONS if key in step), None)
        assert action is not None, f"a step this player does not know: {sorted(step)}"
        ACTIONS[action](self, step)

    # -- call and stream ------------------------------------------------------

    def guarded(self, step: dict[str, Any]) -> None:
        for _ in range(int(step.get("times", 1))):
            retry_for = step.get("retry_for")
            if retry_for is None:
                self.once(step)
                continue
            deadline = time.monotonic() + float(retry_for)
            while True:
                try:
                    self.once(step)
                    break
                except AssertionError as err:
                    if time.monotonic() >= deadline:
                        raise AssertionError(f"not within retry_for {retry_for} s; last try: {err}") from None
                    time.sleep(0.2)

    def once(self, step: dict[str, Any]) -> None:
        started = time.monotonic()
        if "call" in step:
            out = self.driver.call(step["call"], step.get("headers") or {}, bool(step.get("fallback")))
        else:
            out = self.driver.stream(step["stream"], bool(step.get("fallback")))
        elapsed = time.monotonic() - started
        check_expect(step, out, is_stream="stream" in step)
        if step.get("fast"):
            assert elapsed < self.rpc_timeout / 2, f"took {elapsed:.3f} s, not fast (< {self.rpc_timeout / 2:g} s, half the rpc_timeout)"
        if "max_elapsed" in step:
            assert elapsed <= float(step["max_elapsed"]), f"took {elapsed:.3f} s, more than max_elapsed {step['max_elapsed']} s"

    # -- the rest ---------------------------------------------------------------

    def flush(self, step: dict[str, Any]) -> None:
        assert self.driver.flush(), "the queued Reports were not delivered within the flush timeout"

    def state(self, step: dict[str, Any]) -> None:
        got = pb.State.Name(self.harness.status(self.circuit).state).removeprefix("STATE_")
        assert got == step["state"], f"state {got}, expected {step['state']}"

    def stats(self, step: dict[str, Any]) -> None:
        unknown = set(step["stats"]) - set(STATS)
        assert not unknown, f"stats this player does not know: {sorted(unknown)}"
        s = self.harness.status(self.circuit).stats
        got = {name: getattr(s, STATS[name]) for name in step["stats"]}
        assert got == step["stats"], f"stats {got}, expected {step['stats']}"

    def sleep(self, step: dict[str, Any]) -> None:
        time.sleep(float(step["sleep"]))

    def harness_command(self, step: dict[str, Any]) -> None:
        self.harness.command(step["harness"])

    def force(self, step: dict[str, Any]) -> None:
        self.harness.admin().ForceState(pb.ForceStateRequest(circuit=self.circuit, pin=PINS[step["force"]]), timeout=10)

    def watch_start(self, step: dict[str, Any]) -> None:
        self.driver.watch_start()

    def watch_expect(self, step: dict[str, Any]) -> None:
        want = step["watch_expect"]
        within = float(want.get("within", 5))
        deadline = time.monotonic() + within
        message = self.next_watch_message(deadline, within)
        kind = message.WhichOneof("kind")
        if want["kind"] == "snapshot":
            assert kind == "snapshot", f"expected a snapshot, got {kind}: {message}"
            got = (message.snapshot.circuit, pb.State.Name(message.snapshot.state))
            assert got == (self.circuit, f"STATE_{want['state']}"), f"snapshot {got}"
            # The snapshot is whole, and the watch holds a position to resume
            # from, only with its snapshot_complete marker (not an event of its
            # own): a cut before it rightly brings a second snapshot.
            end = self.next_watch_message(deadline, within)
            assert end.WhichOneof("kind") == "snapshot_complete", f"expected the end of the snapshot, got {end}"
        elif want["kind"] == "transition":
            assert kind == "event", f"expected a transition, got {kind}: {message}"
            got = (message.event.circuit, pb.State.Name(message.event.to_state))
            assert got == (self.circuit, f"STATE_{want['to']}"), f"transition to {got}"
        else:
            raise AssertionError(f"a watch_expect kind this player does not know: {want['kind']}")

    def next_watch_message(self, deadline: float, within: float) -> Any:
        try:
            message = self.driver.events.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            raise AssertionError(f"no watch event within {within:g} s") from None
        if isinstance(message, BaseException):
            raise AssertionError(f"the watch ended with {message!r}")
        return message

    def watch_stop(self, step: dict[str, Any]) -> None:
        self.driver.watch_stop()


ACTIONS = {
    "call": Player.guarded,
    "stream": Player.guarded,
    "flush": Player.flush,
    "state": Player.state,
    "stats": Player.stats,
    "sleep": Player.sleep,
    "harness": Player.harness_command,
    "force": Player.force,
    "watch_start": Player.watch_start,
    "watch_expect": Player.watch_expect,
    "watch_stop": Player.watch_stop,
}


def check_expect(step: dict[str, Any], out: Outcome, *, is_stream: bool) -> None:
    expect = step["expect"]
    if expect == "ok":
        assert out.error is None, f"expected ok, got {out.error!r}"
        assert out.ran, "the function did not run"
        assert (out.items if is_stream else out.value) == (["a", "b"] if is_stream else "ok"), f"got {out.items if is_stream else out.value!r}"
    elif expect == "raised":
        assert out.ran, f"the function did not run (got {out.error!r})"
        assert out.error is not None and out.error is out.raised, f"expected the function's own error {out.raised!r}, got {out.error!r}"
        if is_stream:
            assert out.items == ["a", "b"], f"items before the error: {out.items}"
    elif expect in ("open", "unavailable"):
        assert not out.ran, "the function ran"
        assert isinstance(out.error, CircuitOpenError), f"expected CircuitOpenError, got {out.error!r} (value {out.value!r})"
        if expect == "open":
            assert out.error.reason != "SERVICE_UNAVAILABLE", f"denied as unavailable, not open: {out.error}"
        else:
            assert out.error.reason == "SERVICE_UNAVAILABLE", f"denied, but not as unavailable: {out.error}"
        if "retry_after_min" in step:
            assert out.error.retry_after >= float(step["retry_after_min"]), f"retry_after {out.error.retry_after:.3f} s < {step['retry_after_min']}"
    elif expect == "fallback":
        assert step.get("fallback") is True, "expect: fallback needs fallback: true"
        assert not out.ran, "the function ran"
        assert out.error is None, f"expected the fallback's value, got {out.error!r}"
        assert (out.items if is_stream else out.value) == ([FALLBACK] if is_stream else FALLBACK)
        assert isinstance(out.fallback_got, CircuitOpenError)
    else:
        raise AssertionError(f"an expect this player does not know: {expect}")
