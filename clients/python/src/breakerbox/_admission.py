"""Admission without I/O: what a client decides before and after Acquire.

Known-OPEN fail-fast (a denial's retry_after), the "service down" memo (an
unreachable Breakerbox is not asked again for `service_retry` seconds), and
the `on_unavailable` policy. Shared by the sync and async clients, which
only do the RPCs. Thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Literal, Sequence, Union

from ._local_breaker import LocalBreaker, LocalBreakers
from .errors import AllCircuitsOpenError, BreakerboxError, CircuitOpenError, RpcFailure
from .v1 import breakerbox_pb2 as pb

#: What to do while Breakerbox is unreachable: call the dependency under a
#: local breaker per circuit, or deny every call (CircuitOpenError with
#: reason "SERVICE_UNAVAILABLE", or the fallback).
UnavailablePolicy = Literal["fail_open", "fail_closed"]


@dataclass(frozen=True)
class Permit:
    """An admitted call: `token` is Breakerbox's permit to Report, or "" when
    admitted by `local` (a local breaker) while Breakerbox is unreachable."""

    circuit: str
    token: str
    local: LocalBreaker | None = None


@dataclass(frozen=True)
class Denial:
    circuit: str
    state: str
    reason: str
    retry_after: float
    local: bool

    def error(self) -> CircuitOpenError:
        return CircuitOpenError(self.circuit, self.state, self.reason, self.retry_after, self.local)


Admission = Union[Permit, Denial]


@dataclass(frozen=True)
class Denials:
    """Every candidate of an AcquireAny denied the call: one Denial each, in candidate order."""

    denials: tuple[Denial, ...]

    def error(self) -> AllCircuitsOpenError:
        return AllCircuitsOpenError([d.error() for d in self.denials])


@dataclass(frozen=True)
class AskAny:
    """Breakerbox must be asked, about `candidates` (those not known OPEN, in
    order); `known_open` holds the local denials of the others."""

    candidates: tuple[str, ...]
    known_open: tuple[Denial, ...]


AnyAdmission = Union[Permit, Denials]


class Gate:
    def __init__(
        self,
        policy: UnavailablePolicy,
        clock: Callable[[], float],
        service_retry: float,
        local_breakers: LocalBreakers,
    ) -> None:
        if policy not in ("fail_open", "fail_closed"):
            raise ValueError(f'on_unavailable must be "fail_open" or "fail_closed", not {policy!r}')
        self._policy = policy
        self._clock = clock
        self._service_retry = service_retry
        self._local = local_breakers
        self._lock = threading.Lock()
        self._known_open: dict[str, Denial] = {}  # retry_after holds the clock time it ends
        self._down_until = 0.0

    def before_acquire(self, circuit: str) -> Admission | None:
        """The answer without asking Breakerbox, or None when it must be asked."""
        now = self._clock()
        with self._lock:
            known = self._known_open.get(circuit)
            if known is not None:
                if now < known.retry_after:
                    return Denial(circuit, known.state, known.reason, known.retry_after - now, local=True)
                del self._known_open[circuit]
            down = now < self._down_until
        return self._degraded(circuit) if down else None

    def after_acquire(self, circuit: str, response: pb.AcquireResponse) -> Admission:
        """Breakerbox answered: the service is up; a denial with a retry_after is remembered."""
        self.service_up()
        if response.allowed:
            with self._lock:
                self._known_open.pop(circuit, None)
            return Permit(circuit, response.permit)
        return self._remember(circuit, response.state, response.reason, response.retry_after.ToNanoseconds() / 1e9)

    def before_acquire_any(self, circuits: Sequence[str]) -> AnyAdmission | AskAny:
        """As before_acquire for AcquireAny's candidates: the answer without
        asking (every candidate known OPEN, or Breakerbox down), or whom to ask."""
        if not circuits:
            raise ValueError("run_any needs at least one candidate circuit")
        if self.is_down():
            return self._degraded_any(circuits)
        ask: list[str] = []
        known: list[Denial] = []
        for circuit in circuits:
            decided = self.before_acquire(circuit)
            if isinstance(decided, Denial):
                known.append(decided)
            else:
                ask.append(circuit)
        if not ask:
            return Denials(tuple(known))
        return AskAny(tuple(ask), tuple(known))

    def after_acquire_any(self, circuits: Sequence[str], asked: AskAny, response: pb.AcquireAnyResponse) -> AnyAdmission:
        """Breakerbox answered AcquireAny: its denials with a retry_after are
        remembered like Acquire's; the admitting candidate is no longer known OPEN."""
        self.service_up()
        denied = {
            d.circuit: self._remember(d.circuit, d.state, d.reason, d.retry_after.ToNanoseconds() / 1e9) for d in response.denials
        }
        if response.allowed:
            with self._lock:
                self._known_open.pop(response.circuit, None)
            return Permit(response.circuit, response.permit)
        local = {d.circuit: d for d in asked.known_open}
        return Denials(tuple(denied.get(c) or local.get(c) or Denial(c, "OPEN", "OPEN", 0.0, False) for c in circuits))

    def acquire_any_failed(self, circuits: Sequence[str], failure: RpcFailure) -> AnyAdmission:
        """As acquire_failed, for AcquireAny."""
        if failure.unreachable:
            self.service_down(failure.retry_delay)
            return self._degraded_any(circuits)
        if failure.reason == "CIRCUIT_CAP_REACHED":
            return self._degraded_any(circuits)
        raise BreakerboxError("AcquireAny", failure)

    def _remember(self, circuit: str, state: pb.State, reason: pb.DenyReason, retry_after: float) -> Denial:
        denial = Denial(
            circuit,
            pb.State.Name(state).removeprefix("STATE_"),
            pb.DenyReason.Name(reason).removeprefix("DENY_REASON_"),
            retry_after,
            local=False,
        )
        if retry_after > 0:  # FORCED_OPEN and HALF_OPEN_FULL have none: only the service knows their end
            with self._lock:
                self._known_open[circuit] = Denial(circuit, denial.state, denial.reason, self._clock() + retry_after, True)
        return denial

    def acquire_failed(self, circuit: str, failure: RpcFailure) -> Admission:
        """Acquire failed: unreachable starts the memo and applies the policy;
        CIRCUIT_CAP_REACHED applies the policy to this call only; anything
        else is a mistake to fix and raised as BreakerboxError."""
        if failure.unreachable:
            self.service_down(failure.retry_delay)
            return self._degraded(circuit)
        if failure.reason == "CIRCUIT_CAP_REACHED":
            return self._degraded(circuit)
        raise BreakerboxError("Acquire", failure)

    def transition(self, circuit: str, to_state: str, open_seconds_left: float) -> None:
        """A Watch transition: to OPEN is known OPEN for the open time left; any other state clears."""
        with self._lock:
            if to_state == "OPEN" and open_seconds_left > 0:
                self._known_open[circuit] = Denial(circuit, "OPEN", "OPEN", self._clock() + open_seconds_left, True)
            elif to_state != "OPEN":
                self._known_open.pop(circuit, None)

    def service_down(self, retry_delay: float | None) -> None:
        """Breakerbox was unreachable: skip it for service_retry s, or its RetryInfo's delay if longer."""
        with self._lock:
            self._down_until = self._clock() + max(self._service_retry, retry_delay or 0.0)

    def service_up(self) -> None:
        with self._lock:
            was_down, self._down_until = self._down_until > 0, 0.0
        if was_down:
            self._local.clear()

    def is_down(self) -> bool:
        with self._lock:
            return self._clock() < self._down_until

    def _degraded_any(self, circuits: Sequence[str]) -> AnyAdmission:
        """Breakerbox unreachable: the first candidate its policy admits (a
        local breaker's, under fail_open), else every candidate's denial."""
        denials: list[Denial] = []
        for circuit in circuits:
            a = self._degraded(circuit)
            if isinstance(a, Permit):
                return a
            denials.append(a)
        return Denials(tuple(denials))

    def _degraded(self, circuit: str) -> Admission:
        if self._policy == "fail_closed":
            with self._lock:
                left = max(self._down_until - self._clock(), 0.0)
            return Denial(circuit, "OPEN", "SERVICE_UNAVAILABLE", left, local=True)
        breaker = self._local.get(circuit)
        wait = breaker.admit()
        if wait is None:
            return Permit(circuit, "", breaker)
        return Denial(circuit, "OPEN", "OPEN", wait, local=True)
