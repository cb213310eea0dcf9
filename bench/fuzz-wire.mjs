/**
 * How the fuzzer talks to a server: raw HTTP/2 on the gRPC port (node:http2,
 * so malformed frames reach the server as written, which no gRPC client
 * library would send) and Connect over HTTP/1.1 on the HTTP port (fetch).
 * Each answer is reduced to what the checks need: the status code, the
 * google.rpc.ErrorInfo it carried (from grpc-status-details-bin or the
 * Connect error's details) and the decoded response message when OK.
 */
import http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";

/** Connect error code names (the Connect protocol's JSON `code`) to gRPC code numbers. */
export const CONNECT_CODES = Object.freeze({
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
});

const ERROR_INFO_URL = "type.googleapis.com/google.rpc.ErrorInfo";

function base64Bytes(text) {
  return Uint8Array.from(Buffer.from(text, "base64"));
}

/**
 * A wire to one server: `grpc(case)` and `http(case)` answer
 * `{ code, errorInfo?, message?, detail, transport? }`; `code` is a gRPC code
 * number, or a string naming what came back instead (an HTTP status without a
 * Connect error, a reset stream, no answer within `answerTimeoutMs`).
 */
export function createFuzzWire({ grpcAddress, httpUrl, statusSchema, errorInfoSchema, answerTimeoutMs = 60_000 }) {
  // Node's client sessions refuse new streams (RST_STREAM ENHANCE_YOUR_CALM)
  // once 10 MB of their own buffered output is outstanding, which the
  // oversized cases reach; grpc-js lifts the same limit on its side.
  const open = () => {
    const s = http2.connect(`http://${grpcAddress}`, { maxSessionMemory: Number.MAX_SAFE_INTEGER });
    // A session the server closes (GOAWAY after a protocol error) is replaced on the next call.
    s.on("error", () => {});
    return s;
  };
  let session;
  const connect = () => {
    if (session === undefined || session.closed || session.destroyed) session = open();
    return session;
  };

  const errorInfoOfStatus = (bin) => {
    const status = fromBinary(statusSchema, base64Bytes(bin));
    for (const any of status.details) {
      if (any.typeUrl === ERROR_INFO_URL) return { statusCode: status.code, ...fromBinary(errorInfoSchema, any.value) };
    }
    return { statusCode: status.code };
  };

  return {
    /** Sends `c.frame` as the body of a gRPC call (server streams end after their first message). */
    grpc(c, s = connect()) {
      return new Promise((resolve) => {
        const stream = s.request({
          ":method": "POST",
          ":path": c.path,
          "content-type": "application/grpc",
          te: "trailers",
          ...c.metadata,
        });
        let headers = {};
        let trailers = {};
        const chunks = [];
        let done = false;
        const timer = setTimeout(() => finish({ code: "no-answer", detail: `no status within ${answerTimeoutMs} ms` }), answerTimeoutMs);
        const finish = (result) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          resolve(result);
        };
        const settle = () => {
          const grpcStatus = trailers["grpc-status"] ?? headers["grpc-status"];
          if (grpcStatus === undefined) {
            finish({ code: `reset-${stream.rstCode ?? "?"}`, detail: `stream closed without grpc-status (HTTP ${headers[":status"]})` });
            return;
          }
          const code = Number(grpcStatus);
          const bin = trailers["grpc-status-details-bin"] ?? headers["grpc-status-details-bin"];
          const detail = decodeURIComponent(String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""));
          let errorInfo;
          try {
            errorInfo = bin === undefined ? undefined : errorInfoOfStatus(String(bin));
          } catch (err) {
            finish({ code, detail: `undecodable grpc-status-details-bin: ${err.message}` });
            return;
          }
          const body = Buffer.concat(chunks);
          let message;
          if (code === 0 && body.length >= 5) {
            try {
              message = fromBinary(c.method.output, body.subarray(5, 5 + body.readUInt32BE(1)));
            } catch {
              // Only Acquire's permits are read from responses; the checks do not rely on the rest.
            }
          }
          finish({ code, errorInfo, message, detail, body });
        };
        stream.on("response", (h) => (headers = h));
        stream.on("trailers", (t) => (trailers = t));
        stream.on("data", (chunk) => {
          chunks.push(chunk);
          // A Watch that started streaming answered OK: cancel it rather than hold it open.
          if (c.method.methodKind === "server_streaming") finish({ code: 0, detail: "stream started" });
        });
        stream.on("error", () => {});
        stream.on("close", settle);
        stream.end(Buffer.from(c.frame));
      });
    },

    /** Sends `c.body` as a Connect unary request on the HTTP port. */
    async http(c) {
      let res;
      try {
        res = await fetch(`${httpUrl}${c.path}`, {
          method: "POST",
          headers: { "content-type": c.contentType, "connect-protocol-version": "1", ...c.metadata },
          body: c.body,
          signal: AbortSignal.timeout(answerTimeoutMs),
        });
      } catch (err) {
        return { code: "no-answer", detail: String(err?.cause?.message ?? err?.message ?? err) };
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status === 200) {
        let message;
        try {
          message = c.contentType === "application/json" ? undefined : fromBinary(c.method.output, bytes);
          if (c.contentType === "application/json") {
            const json = JSON.parse(Buffer.from(bytes).toString("utf8"));
            message = { permit: json.permit, circuit: json.circuit, allowed: json.allowed };
          }
        } catch {
          // As for gRPC: only permits are read.
        }
        return { code: 0, message, detail: "" };
      }
      let error;
      try {
        error = JSON.parse(Buffer.from(bytes).toString("utf8"));
      } catch {
        return { code: `http-${res.status}`, detail: Buffer.from(bytes).toString("utf8").slice(0, 200) };
      }
      const code = CONNECT_CODES[error?.code];
      if (code === undefined) return { code: `http-${res.status}`, detail: JSON.stringify(error).slice(0, 200) };
      let errorInfo;
      for (const d of Array.isArray(error.details) ? error.details : []) {
        if (d?.type === "google.rpc.ErrorInfo" && typeof d.value === "string") {
          errorInfo = { statusCode: code, ...fromBinary(errorInfoSchema, base64Bytes(d.value)) };
        }
      }
      return { code, errorInfo, detail: String(error.message ?? "") };
    },

    /** grpc.health.v1.Health/Check on the gRPC port (a new connection) and GET /healthz on the HTTP port: both must answer. */
    async alive() {
      // On a connection of its own: the question is whether the server answers anyone.
      const probeSession = open();
      const health = await this.grpc(
        { path: "/grpc.health.v1.Health/Check", frame: new Uint8Array([0, 0, 0, 0, 0]), metadata: {}, method: { methodKind: "unary", output: undefined } },
        probeSession,
      );
      probeSession.close();
      // SERVING is field 1 = 1: the response frame is exactly 00 00000002 08 01.
      const serving = health.code === 0 && Buffer.from([0, 0, 0, 0, 2, 8, 1]).equals(health.body ?? Buffer.alloc(0));
      let healthz;
      try {
        const res = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(answerTimeoutMs) });
        healthz = `${res.status} ${await res.text()}`;
      } catch (err) {
        healthz = String(err?.message ?? err);
      }
      return { grpcHealth: serving ? "SERVING" : `code ${health.code}`, healthz };
    },

    close() {
      session?.close();
    },
  };
}
