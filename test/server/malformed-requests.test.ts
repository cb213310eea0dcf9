/**
 * The HTTP port's answers to bodies that do not decode, and to BatchReport
 * results read as JSON: both found by the fuzz run (test/e2e/fuzz.test.ts).
 * - An undecodable binary body answered INTERNAL with connect-node's parser
 *   message ("parse binary: premature EOF"), an undecodable JSON body
 *   INVALID_ARGUMENT without details; now both are INVALID_ARGUMENT
 *   MALFORMED_REQUEST, as on the gRPC port (src/server/malformed-requests.ts).
 * - A BatchReport over Connect JSON with any failed item answered INTERNAL:
 *   the item's google.rpc.Status packs ErrorInfo in an Any, which the JSON
 *   writer could not name.
 */
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AcquireRequestSchema, AcquireResponseSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { useTestServer } from "../support/use-test-server.js";

const { server } = useTestServer();

const PATH = "/breakerbox.v1.CircuitService/Acquire";

async function post(path: string, contentType: string, body: Uint8Array | string): Promise<Response> {
  return fetch(`${server.httpUrl}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
}

/** A Connect error body's code, message and ErrorInfo (reason, domain). */
async function connectError(res: Response): Promise<{ status: number; code: string; message: string; errorInfo: { reason: string; domain: string }[] }> {
  const json = (await res.json()) as { code: string; message: string; details?: { type: string; value: string }[] };
  const errorInfo = (json.details ?? [])
    .filter((d) => d.type === "google.rpc.ErrorInfo")
    .map((d) => fromBinary(ErrorInfoSchema, Buffer.from(d.value, "base64")))
    .map(({ reason, domain }) => ({ reason, domain }));
  return { status: res.status, code: json.code, message: json.message, errorInfo };
}

const MALFORMED = [{ reason: "MALFORMED_REQUEST", domain: "breakerbox.v1" }];

describe("undecodable bodies on the HTTP port are INVALID_ARGUMENT MALFORMED_REQUEST", () => {
  it("Connect binary: a field cut short", async () => {
    // Field 1 (circuit), length 5, then one byte.
    const res = await post(PATH, "application/proto", new Uint8Array([0x0a, 0x05, 0x61]));
    expect(await connectError(res)).toEqual({
      status: 400,
      code: "invalid_argument",
      message: "request could not be decoded as breakerbox.v1.AcquireRequest: premature EOF",
      errorInfo: MALFORMED,
    });
  });

  it("Connect binary: invalid UTF-8 in a string", async () => {
    const res = await post(PATH, "application/proto", new Uint8Array([0x0a, 0x02, 0xc3, 0x28]));
    const error = await connectError(res);
    expect([error.status, error.code, error.errorInfo]).toEqual([400, "invalid_argument", MALFORMED]);
    expect(error.message).toMatch(/^request could not be decoded as breakerbox\.v1\.AcquireRequest: /);
  });

  it("Connect JSON: not JSON, and a wrong type", async () => {
    for (const body of ["{", '{"circuit": 5}']) {
      const error = await connectError(await post(PATH, "application/json", body));
      expect([error.status, error.code, error.errorInfo], body).toEqual([400, "invalid_argument", MALFORMED]);
    }
  });

  it("gRPC-Web: an undecodable message in its envelope", async () => {
    const message = new Uint8Array([0x0a, 0x05, 0x61]);
    const frame = new Uint8Array([0, 0, 0, 0, message.length, ...message]);
    const res = await post(PATH, "application/grpc-web+proto", frame);
    // gRPC-Web sends the status in the headers (trailers-only) or a trailer frame.
    let fields: Record<string, string> = {};
    res.headers.forEach((v, k) => (fields[k] = v));
    const body = new Uint8Array(await res.arrayBuffer());
    if (fields["grpc-status"] === undefined && body.length > 5 && (body[0]! & 0x80) !== 0) {
      fields = Object.fromEntries(
        Buffer.from(body.subarray(5))
          .toString("utf8")
          .split("\r\n")
          .filter((l) => l.includes(":"))
          .map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
      );
    }
    expect(fields["grpc-status"]).toBe("3");
    const status = fromBinary(StatusSchema, Buffer.from(fields["grpc-status-details-bin"] ?? "", "base64"));
    const info = status.details.filter((a) => a.typeUrl.endsWith("/google.rpc.ErrorInfo")).map((a) => fromBinary(ErrorInfoSchema, a.value));
    expect(info.map(({ reason, domain }) => ({ reason, domain }))).toEqual(MALFORMED);
  });

  it("well-formed bodies still reach the service, in both encodings", async () => {
    const binary = await post(PATH, "application/proto", toBinary(AcquireRequestSchema, create(AcquireRequestSchema, { circuit: "decodes-1" })));
    expect(binary.status).toBe(200);
    expect(fromBinary(AcquireResponseSchema, new Uint8Array(await binary.arrayBuffer())).allowed).toBe(true);
    const json = await post(PATH, "application/json", JSON.stringify({ circuit: "decodes-2", unknownFieldsAreIgnored: 1 }));
    expect(json.status).toBe(200);
    expect(((await json.json()) as { allowed: boolean }).allowed).toBe(true);
  });
});

describe("BatchReport over Connect JSON", () => {
  it("answers a failed item's google.rpc.Status with its details as JSON Any", async () => {
    const res = await post(
      "/breakerbox.v1.CircuitService/BatchReport",
      "application/json",
      JSON.stringify({ reports: [{ circuit: "batch-json", permit: "not-a-permit", outcome: "OUTCOME_FAILURE" }] }),
    );
    expect(res.status).toBe(200);
    const json = (await res.json()) as { results: { error: { code: number; details: Record<string, unknown>[] } }[] };
    expect(json.results).toHaveLength(1);
    const error = json.results[0]!.error;
    expect(error.code).toBe(9); // FAILED_PRECONDITION
    // A report on a circuit that does not exist is PERMIT_UNKNOWN whatever the token.
    expect(error.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "PERMIT_UNKNOWN",
        domain: "breakerbox.v1",
        metadata: { circuit: "batch-json" },
      },
    ]);
  });
});
