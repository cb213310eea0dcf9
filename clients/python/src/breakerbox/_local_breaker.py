"""The local breakers of fail_open: one small consecutive-failures breaker
per circuit, in this process only, guarding dependencies while Breakerbox
itself is unreachable. Their outcomes are never sent to Breakerbox."""

from __future__ import annotations

import threading
from typing import Callable

from .classify import Outcome


class LocalBreaker:
    """CLOSED until `failure_threshold` failures in a row; then OPEN for
    `open_seconds`; then HALF_OPEN, admitting one probe whose outcome closes
    or re-opens it. Thread-safe."""

    def __init__(self, failure_threshold: int, open_seconds: float, clock: Callable[[], float]) -> None:
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    def admit(self) -> float | None:
        """None when admitted, else the seconds until it may admit again."""
        with self._lock:
            if self._open_until is None:
                return None
            left = self._open_until - self._clock()
            if left > 0:
                return left
            if self._probing:
                return 0.0
            self._probing = True
            return None

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            probe, self._probing = self._probing, False
            if outcome == Outcome.SUCCESS:
                if probe or self._open_until is None:
                    self._failures, self._open_until = 0, None
            elif outcome in (Outcome.FAILURE, Outcome.TIMEOUT):
                self._failures += 1
                if probe or self._failures >= self._threshold:
                    self._open_until = self._clock() + self._open_seconds


class LocalBreakers:
    """One LocalBreaker per circuit, created CLOSED on first use; `clear()`
    drops them all when Breakerbox answers again (it is the truth again)."""

    def __init__(self, failure_threshold: int, open_seconds: float, clock: Callable[[], float]) -> None:
        self._threshold, self._open_seconds, self._clock = failure_threshold, open_seconds, clock
        self._lock = threading.Lock()
        self._breakers: dict[str, LocalBreaker] = {}

    def get(self, circuit: str) -> LocalBreaker:
        with self._lock:
            breaker = self._breakers.get(circuit)
            if breaker is None:
                breaker = self._breakers[circuit] = LocalBreaker(self._threshold, self._open_seconds, self._clock)
            return breaker

    def clear(self) -> None:
        with self._lock:
            self._breakers.clear()
