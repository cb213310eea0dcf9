"""Reads a failed RPC's google.rpc.Status details (docs/clients.md §Errors):
the ErrorInfo reason and RetryInfo delay that the client acts on."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from .errors import RpcFailure

#: ErrorInfo.domain of Breakerbox's errors; a reason of another domain is not ours.
ERROR_DOMAIN = "breakerbox.v1"
_DETAILS_KEY = "grpc-status-details-bin"


def failure_of_status(status: status_pb2.Status) -> RpcFailure:
    """The failure a google.rpc.Status describes (a BatchReport result's error)."""
    reason = ""
    retry_delay: float | None = None
    metadata: dict[str, str] = {}
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        retry = error_details_pb2.RetryInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == ERROR_DOMAIN:
            reason = info.reason
            metadata = dict(info.metadata)
        elif detail.Is(retry.DESCRIPTOR) and detail.Unpack(retry):
            retry_delay = retry.retry_delay.ToNanoseconds() / 1e9
    return RpcFailure(_code(status.code), reason, retry_delay, status.message, metadata)


def failure_of(err: grpc.RpcError) -> RpcFailure:
    """The failure of a grpc (sync or aio) call error, with its details when it carries any."""
    call: Any = err  # grpcio's errors are also grpc.Call / AioRpcError
    code: grpc.StatusCode = call.code() if callable(getattr(call, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (call.details() if callable(getattr(call, "details", None)) else None) or ""
    trailers = call.trailing_metadata() if callable(getattr(call, "trailing_metadata", None)) else None
    for key, value in trailers or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.ParseFromString(value)
            except Exception:  # a proxy's or corrupted trailer: the code still tells what happened
                break
            parsed = failure_of_status(status)
            return RpcFailure(code, parsed.reason, parsed.retry_delay, message, parsed.metadata)
    return RpcFailure(code, "", None, message)


def _code(value: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN
