"""Reads Breakerbox error details the way a Python agent does (grpcio-status).

stdin: a JSON list of calls, each {"method": "Report", "request": {...} (proto
JSON), "metadata": {...}, "raw": "<base64>" (optional: send these bytes instead
of the request)}. For each call, prints one JSON line: code, reason, domain,
metadata, retryDelayMs and fieldViolations, read from the status details.
argv[1]: the server address (host:port).
"""
import base64
import json
import sys

import grpc
from google.protobuf import json_format, message_factory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from breakerbox.v1 import breakerbox_pb2

SERVICE = breakerbox_pb2.DESCRIPTOR.services_by_name["CircuitService"]


def describe(err: grpc.RpcError) -> dict:
    out = {"code": err.code().value[0], "reason": None, "domain": None, "metadata": {}, "retryDelayMs": None, "fieldViolations": []}
    status = rpc_status.from_call(err)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        retry = error_details_pb2.RetryInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            out.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
        elif detail.Unpack(retry):
            out["retryDelayMs"] = retry.retry_delay.ToMilliseconds()
        elif detail.Unpack(bad):
            out["fieldViolations"] = [v.field for v in bad.field_violations]
    return out


def run(channel: grpc.Channel, call: dict) -> dict:
    method = SERVICE.methods_by_name[call["method"]]
    path = f"/{SERVICE.full_name}/{method.name}"
    if "raw" in call:
        request = base64.b64decode(call["raw"])
    else:
        cls = message_factory.GetMessageClass(method.input_type)
        request = json_format.ParseDict(call.get("request", {}), cls()).SerializeToString()
    metadata = list(call.get("metadata", {}).items())
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path)(request, metadata=metadata, timeout=5)
            for _ in stream:
                pass
        else:
            channel.unary_unary(path)(request, metadata=metadata, timeout=5)
    except grpc.RpcError as err:
        return describe(err)
    return {"code": 0}


def main() -> None:
    with grpc.insecure_channel(sys.argv[1]) as channel:
        for call in json.load(sys.stdin):
            print(json.dumps(run(channel, call)), flush=True)


if __name__ == "__main__":
    main()
