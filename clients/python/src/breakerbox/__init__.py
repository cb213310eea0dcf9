"""Breakerbox client: guard calls to flaky dependencies (LLM APIs, tools)
with a circuit breaker shared by every agent of a fleet.

    from breakerbox import Breakerbox
    with Breakerbox("localhost:50051") as bb:
        answer = bb.run("llm.openai", lambda: call_openai(prompt), fallback=lambda e: "busy, try later")

`AsyncBreakerbox` is the asyncio twin. The generated stubs are in `breakerbox.v1`.
"""

from ._admission import UnavailablePolicy
from ._core import default_agent_instance_id
from .aio import AsyncBreakerbox
from .classify import (
    Classification,
    Classifier,
    Outcome,
    classify_exception,
    classify_http_status,
    parse_retry_after,
    retry_after_from_headers,
)
from .client import Breakerbox
from ._watch import AsyncWatch, Watch
from .errors import AllCircuitsOpenError, BreakerboxError, CallTimeout, CircuitOpenError, RpcFailure

__all__ = [
    "AllCircuitsOpenError",
    "AsyncBreakerbox",
    "AsyncWatch",
    "Breakerbox",
    "BreakerboxError",
    "CallTimeout",
    "CircuitOpenError",
    "Classification",
    "Classifier",
    "Outcome",
    "RpcFailure",
    "UnavailablePolicy",
    "Watch",
    "classify_exception",
    "classify_http_status",
    "default_agent_instance_id",
    "parse_retry_after",
    "retry_after_from_headers",
]
