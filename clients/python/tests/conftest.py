"""Fixtures for tests against a live Breakerbox: its gRPC address comes from
BREAKERBOX_TEST_ADDRESS (test/e2e/client-python.test.ts starts the server with
CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 and CIRCUIT_BREAKER_TIMEOUT_SECONDS=60)."""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from typing import Any, Callable, Iterator

import grpc
import grpc.aio
import pytest

from breakerbox.v1 import breakerbox_pb2 as pb
from breakerbox.v1 import breakerbox_pb2_grpc as pb_grpc

FAILURE_THRESHOLD = 3
OPEN_SECONDS = 60


@pytest.fixture(scope="session")
def address() -> str:
    value = os.environ.get("BREAKERBOX_TEST_ADDRESS")
    if not value:
        pytest.fail("set BREAKERBOX_TEST_ADDRESS to a live Breakerbox's gRPC host:port")
    return value


@pytest.fixture
def circuit(request: pytest.FixtureRequest) -> str:
    """A circuit name no other test uses."""
    return f"py.{request.node.name.replace('[', '.').replace(']', '')[:60]}.{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def admin(address: str) -> Iterator[Any]:
    """A plain stub for checking the server's side (GetState)."""
    channel = grpc.insecure_channel(address)
    yield pb_grpc.CircuitServiceStub(channel)  # type: ignore[no-untyped-call]
    channel.close()


def stats(admin: Any, circuit: str) -> tuple[str, dict[str, int]]:
    """The circuit's state name and its total counters."""
    status = admin.GetState(pb.GetStateRequest(circuit=circuit), timeout=5).status
    s = status.stats
    return pb.State.Name(status.state).removeprefix("STATE_"), {
        "successes": s.total_successes,
        "failures": s.total_failures,
        "timeouts": s.total_timeouts,
        "ignored": s.total_ignored,
        "rejections": s.total_rejections,
    }


class Counting(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Counts the unary RPCs the client starts, by method name ("Acquire", "BatchReport")."""

    def __init__(self, before: Callable[[str], None] | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self._before = before

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        name = details.method.rsplit("/", 1)[-1]
        self.calls[name] += 1
        if self._before is not None:
            self._before(name)
        return continuation(details, request)


class AsyncCounting(grpc.aio.UnaryUnaryClientInterceptor):
    """Counting for grpc.aio."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        self.calls[method.rsplit("/", 1)[-1]] += 1
        return await continuation(details, request)


@pytest.fixture
def refused_address() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.fixture
def blackhole_address() -> Iterator[str]:
    """A port that completes TCP handshakes (the listen backlog) but never answers: every RPC waits out its deadline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"127.0.0.1:{s.getsockname()[1]}"


class HttpError(Exception):
    """An SDK-like error: an HTTP status and headers, found by attribute."""

    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers or {}
