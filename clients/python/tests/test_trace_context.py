"""The Python client propagates the agent's OpenTelemetry context (issue 14,
item 3): with opentelemetry importable and a span current, Acquire carries its
traceparent, from the sync client and from asyncio alike. Against a stub
CircuitService in this process that records the metadata it receives (the
server's side is test/e2e/tracing.test.ts)."""

from __future__ import annotations

from concurrent import futures
from typing import Any, Iterator

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from breakerbox import _trace_context
from breakerbox.aio import AsyncBreakerbox
from breakerbox.client import Breakerbox
from breakerbox.v1 import breakerbox_pb2 as pb
from breakerbox.v1 import breakerbox_pb2_grpc as pb_grpc

# The default global propagator is W3C trace context + baggage (OTEL_PROPAGATORS unset).
tracer = TracerProvider().get_tracer("test")


class Recording(pb_grpc.CircuitServiceServicer):
    def __init__(self) -> None:
        self.traceparents: list[tuple[str, str]] = []

    def _record(self, method: str, context: Any) -> None:
        metadata = dict(context.invocation_metadata())
        self.traceparents.append((method, metadata.get("traceparent", "")))

    def Acquire(self, request: Any, context: Any) -> Any:
        self._record("Acquire", context)
        return pb.AcquireResponse(allowed=True, permit="stub-permit", state=pb.STATE_CLOSED)

    def BatchReport(self, request: Any, context: Any) -> Any:
        self._record("BatchReport", context)
        return pb.BatchReportResponse(
            results=[pb.BatchReportResult(response=pb.ReportResponse(state=pb.STATE_CLOSED)) for _ in request.reports]
        )


@pytest.fixture
def stub() -> Iterator[tuple[str, Recording]]:
    recording = Recording()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_CircuitServiceServicer_to_server(recording, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", recording
    server.stop(None)


def traceparent_of(span: Any) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


def test_sync_acquire_carries_the_current_span(stub: tuple[str, Recording]) -> None:
    address, recording = stub
    bb = Breakerbox(address)
    with tracer.start_as_current_span("agent step") as span:
        assert bb.run("c", lambda: "ok") == "ok"
        expected = traceparent_of(span)
    bb.close()
    assert recording.traceparents[0] == ("Acquire", expected)


async def test_async_acquire_carries_the_current_span(stub: tuple[str, Recording]) -> None:
    address, recording = stub
    bb = AsyncBreakerbox(address)

    async def step() -> str:
        return "ok"

    with tracer.start_as_current_span("agent step") as span:
        assert await bb.run("c", step) == "ok"
        expected = traceparent_of(span)
    await bb.close()
    assert recording.traceparents[0] == ("Acquire", expected)


def test_no_current_span_adds_nothing(stub: tuple[str, Recording]) -> None:
    address, recording = stub
    bb = Breakerbox(address)
    assert bb.run("c", lambda: "ok") == "ok"
    bb.close()
    assert recording.traceparents[0] == ("Acquire", "")


def test_without_opentelemetry_the_metadata_is_unchanged(monkeypatch: pytest.MonkeyPatch, stub: tuple[str, Recording]) -> None:
    # As if `import opentelemetry` had failed: the module keeps None then.
    monkeypatch.setattr(_trace_context, "_propagate", None)
    assert not _trace_context.available()
    address, recording = stub
    bb = Breakerbox(address)
    with tracer.start_as_current_span("agent step"):
        assert bb.run("c", lambda: "ok") == "ok"
    bb.close()
    assert recording.traceparents[0] == ("Acquire", "")
