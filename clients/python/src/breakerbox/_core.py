"""What the sync and async clients share: their options, the channel they
open, the Acquire request they send and how a finished call is settled
(reported to Breakerbox through the queue, or to a local breaker)."""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import grpc
from google.protobuf.duration_pb2 import Duration

from ._admission import Gate, Permit, UnavailablePolicy
from ._local_breaker import LocalBreakers
from .classify import Classification, Classifier, Outcome, classify_exception
from .v1 import breakerbox_pb2 as pb


def default_agent_instance_id() -> str:
    """"<host>:<pid>": distinct per process, so Breakerbox counts each agent process as one reporter."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class ClientOptions:
    """Everything but the address; see `Breakerbox` for what each option does."""

    api_key: str | None = None
    tls: grpc.ChannelCredentials | bool | None = None
    agent_instance_id: str | None = None
    on_unavailable: UnavailablePolicy = "fail_open"
    rpc_timeout: float = 2.0
    service_retry: float = 5.0
    classify: Classifier = classify_exception
    local_failure_threshold: int = 5
    local_open_seconds: float = 30.0
    report_queue_size: int = 10_000
    report_linger: float = 0.002
    close_timeout: float = 5.0
    interceptors: Sequence[Any] = ()
    channel_options: Sequence[tuple[str, Any]] = ()
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)


def channel_args(options: ClientOptions) -> tuple[grpc.ChannelCredentials | None, list[tuple[str, Any]]]:
    """Credentials (None: plaintext, like the server's default) and channel options."""
    # grpc's reconnect backoff grows to 120 s by default: after an outage the
    # client would go without permits that long. Retry within seconds.
    args: list[tuple[str, Any]] = [("grpc.max_reconnect_backoff_ms", 5000), *options.channel_options]
    if options.tls is None or options.tls is False:
        return None, args
    if options.tls is True:
        return grpc.ssl_channel_credentials(), args
    return options.tls, args


class ClientCore:
    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.clock = options.clock
        self.agent_instance_id = options.agent_instance_id or default_agent_instance_id()
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {options.api_key}"),) if options.api_key else ()
        self.gate = Gate(
            options.on_unavailable,
            options.clock,
            options.service_retry,
            LocalBreakers(options.local_failure_threshold, options.local_open_seconds, options.clock),
        )

    def acquire_request(self, circuit: str) -> pb.AcquireRequest:
        return pb.AcquireRequest(circuit=circuit, agent_instance_id=self.agent_instance_id)

    def classify(self, err: BaseException) -> Classification:
        try:
            return self.options.classify(err)
        except Exception:  # a broken classifier must not hide the call's own error
            return Classification(Outcome.FAILURE)

    def settle(self, permit: Permit, c: Classification, started: float, put: Callable[[pb.ReportRequest], None]) -> None:
        """Reports a finished call: to its local breaker, or queued for BatchReport."""
        elapsed = max(self.clock() - started, 0.0)
        if permit.local is not None:
            permit.local.record(c.outcome)
            return
        request = pb.ReportRequest(
            circuit=permit.circuit,
            permit=permit.token,
            outcome=int(c.outcome),  # type: ignore[arg-type]  # Outcome mirrors pb.Outcome's values
            duration=_duration(elapsed),
            agent_instance_id=self.agent_instance_id,
        )
        if c.retry_after is not None and c.outcome != Outcome.SUCCESS:
            request.retry_after.CopyFrom(_duration(c.retry_after))
        put(request)


SUCCESS = Classification(Outcome.SUCCESS)
IGNORED = Classification(Outcome.IGNORED)


def _duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return d
