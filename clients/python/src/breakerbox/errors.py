"""The exceptions a guarded call can raise besides the guarded function's own."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


class CircuitOpenError(Exception):
    """The call was denied and `run` had no fallback: the dependency was not called.

    `retry_after` is in seconds until asking again may succeed (0 when unknown:
    FORCED_OPEN, or HALF_OPEN with every probe out). `local` is true when this
    process decided without asking Breakerbox (the circuit is known OPEN, or
    Breakerbox is unreachable and `on_unavailable` chose to deny).
    """

    def __init__(self, circuit: str, state: str, reason: str, retry_after: float, local: bool) -> None:
        where = "locally" if local else "by Breakerbox"
        super().__init__(f"circuit {circuit!r} is {state} ({reason}), denied {where}; retry in {retry_after:.3f} s")
        self.circuit = circuit
        #: "OPEN", "HALF_OPEN" or "FORCED_OPEN".
        self.state = state
        #: "OPEN", "HALF_OPEN_FULL", "FORCED_OPEN" or, from this client, "SERVICE_UNAVAILABLE".
        self.reason = reason
        self.retry_after = retry_after
        self.local = local


class AllCircuitsOpenError(CircuitOpenError):
    """`run_any` was denied by every candidate circuit: `denials` holds each
    one's CircuitOpenError, in candidate order. As a CircuitOpenError it is
    the denial that ends soonest (`retry_after` 0 when none is known), and
    `local` when every candidate was denied without asking Breakerbox."""

    def __init__(self, denials: list[CircuitOpenError]) -> None:
        known = [d for d in denials if d.retry_after > 0]
        first = min(known, key=lambda d: d.retry_after) if known else denials[0]
        super().__init__(first.circuit, first.state, first.reason, first.retry_after, all(d.local for d in denials))
        self.args = (f"every candidate denied the call: {'; '.join(str(d) for d in denials)}",)
        self.denials = denials


@dataclass(frozen=True)
class RpcFailure:
    """What a failed Breakerbox RPC says, read from its status details, not its message."""

    code: grpc.StatusCode
    #: ErrorInfo.reason of domain "breakerbox.v1" (e.g. "PERMIT_EXPIRED"), or "" without one.
    reason: str
    #: RetryInfo.retry_delay in seconds, or None without RetryInfo.
    retry_delay: float | None
    message: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def unreachable(self) -> bool:
        """Breakerbox cannot answer now (network, deadline, its store, a replica shutting down)."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class BreakerboxError(Exception):
    """Breakerbox refused a call for a reason to fix, not to wait out (a bad
    circuit name, a missing or wrong API key): `failure` says which."""

    def __init__(self, rpc: str, failure: RpcFailure) -> None:
        reason = f" [{failure.reason}]" if failure.reason else ""
        super().__init__(f"Breakerbox {rpc}: {failure.code.name}{reason}: {failure.message}")
        self.rpc = rpc
        self.failure = failure


class CallTimeout(TimeoutError):
    """The guarded function did not finish within `run`'s `timeout` (reported as TIMEOUT)."""
