"""OpenTelemetry context propagation, when the application uses it.

When the ``opentelemetry`` package (opentelemetry-api) is importable, each
call's metadata gets the current context's ``traceparent`` (and
``tracestate``) through the globally configured propagator, so the server's
spans join the agent's trace. Without it, or with no active span, the
metadata is left as it is. The current context is read from contextvars, so
this works alike for the sync client's threads and asyncio tasks.
"""

from __future__ import annotations

from types import ModuleType

_propagate: ModuleType | None
try:
    from opentelemetry import propagate as _otel_propagate

    _propagate = _otel_propagate
except ImportError:  # optional: the client works without it
    _propagate = None

Metadata = tuple[tuple[str, str], ...]


def with_trace_context(metadata: Metadata) -> Metadata:
    """``metadata`` plus the current OpenTelemetry context's propagation entries, if any."""
    if _propagate is None:
        return metadata
    carrier: dict[str, str] = {}
    _propagate.inject(carrier)
    if not carrier:
        return metadata
    return metadata + tuple((key.lower(), value) for key, value in carrier.items())


def available() -> bool:
    """True when opentelemetry is importable (calls then carry the current trace context)."""
    return _propagate is not None
