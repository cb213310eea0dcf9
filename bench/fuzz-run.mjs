/**
 * The fuzz loop shared by test/e2e/fuzz.test.ts and bench/fuzz.mjs: draws
 * cases from fuzz-gen.mjs, sends them one at a time through fuzz-wire.mjs
 * (sequentially, so a seed replays the same run), checks every answer, and
 * asks both ports whether the server is alive between batches.
 *
 * An answer is a violation when its code is not one CircuitService documents
 * (OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED,
 * FAILED_PRECONDITION, OUT_OF_RANGE, UNAUTHENTICATED: never INTERNAL,
 * UNKNOWN, a reset stream or no answer), or when an error lacks
 * google.rpc.ErrorInfo with domain breakerbox.v1 or with a code other than
 * the call's (an undecodable body included: MALFORMED_REQUEST on both
 * ports). Some answers are the protocol's rather than the service's and are
 * allowed as docs/design.md §Errors says: on the HTTP port a content-type
 * Connect does not speak is HTTP 415. On the gRPC port, frames no gRPC library sends are
 * refused by grpc-js before the service sees a message, with its own codes
 * and no details (docs/design.md §Errors): no message or two for a unary
 * method UNIMPLEMENTED, a message (or length prefix) over the 4 MiB limit
 * RESOURCE_EXHAUSTED; on the HTTP port connect-node answers a body over the
 * same limit RESOURCE_EXHAUSTED without details.
 */
import { createFuzzGenerator, notePermit } from "./fuzz-gen.mjs";
import { createFuzzWire } from "./fuzz-wire.mjs";

/** The gRPC codes a CircuitService call may answer. */
export const DOCUMENTED_CODES = Object.freeze(new Set([0, 3, 5, 7, 8, 9, 11, 16]));
const ERROR_DOMAIN = "breakerbox.v1";
/** The servers' grpc.max_receive_message_length. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const CANONICAL_CONTENT_TYPES = new Set(["application/json", "application/proto"]);

/** grpc-js's own answers to broken gRPC framing: framing label → the code it answers. */
const TRANSPORT_REFUSALS = Object.freeze({
  "no-frame": 12,
  "length-beyond-body": 12,
  "cut-header": 12,
  "two-messages": 12,
  oversized: 8,
  "huge-length-prefix": 8,
});

/** Why `answer` to case `c` breaks the contract, or undefined. */
export function violationOf(c, answer) {
  if (c.port === "grpc" && answer.errorInfo === undefined) {
    if (TRANSPORT_REFUSALS[c.framing] === answer.code) return undefined;
    const declared = c.frame.length >= 5 ? Buffer.from(c.frame.buffer, c.frame.byteOffset, 5).readUInt32BE(1) : 0;
    if (answer.code === 8 && declared > MAX_MESSAGE_BYTES) return undefined;
  }
  if (c.port === "http" && answer.errorInfo === undefined && answer.code === 8 && Buffer.byteLength(c.body) > MAX_MESSAGE_BYTES) return undefined;
  if (c.port === "http" && !CANONICAL_CONTENT_TYPES.has(c.contentType)) {
    return answer.code === "http-415" ? undefined : `content-type ${JSON.stringify(c.contentType)} answered ${answer.code}, not HTTP 415`;
  }
  if (typeof answer.code !== "number" || !DOCUMENTED_CODES.has(answer.code)) return `undocumented answer ${answer.code}: ${answer.detail}`;
  if (answer.code === 0) return undefined;
  if (answer.errorInfo === undefined) {
    return `code ${answer.code} without google.rpc.ErrorInfo: ${answer.detail}`;
  }
  if (answer.errorInfo.domain !== ERROR_DOMAIN) return `ErrorInfo domain ${JSON.stringify(answer.errorInfo.domain)}`;
  if (answer.errorInfo.statusCode !== answer.code) return `details say code ${answer.errorInfo.statusCode}, the call ${answer.code}`;
  return undefined;
}

/**
 * Runs `iterations` cases against the server; resolves with counts and
 * violations (at most `maxViolations` kept, each with the case's index and
 * label so `seed` + index replays it).
 */
export async function runFuzz(options) {
  const { service, seed, iterations, probeEvery = 250, maxViolations = 50, onProgress } = options;
  const generator = createFuzzGenerator({ service, seed, authorization: options.authorization ?? {} });
  const wire = createFuzzWire(options);
  const permits = [];
  const counts = {};
  const violations = [];
  let violationCount = 0;
  /** Every violation kind (digits folded) with its count and first case, however many there are. */
  const kinds = {};
  const probes = { sent: 0, answered: 0, failures: [] };
  const probe = async (at) => {
    probes.sent++;
    const alive = await wire.alive();
    if (alive.grpcHealth === "SERVING" && alive.healthz === "200 ok") probes.answered++;
    else if (probes.failures.length < maxViolations) probes.failures.push({ at, ...alive });
  };
  try {
    for (let i = 0; i < iterations; i++) {
      const c = generator.next(permits);
      const answer = c.port === "grpc" ? await wire.grpc(c) : await wire.http(c);
      const key = `${c.port} ${typeof answer.code === "number" ? codeName(answer.code) : answer.code}`;
      counts[key] = (counts[key] ?? 0) + 1;
      const why = violationOf(c, answer);
      if (why !== undefined) {
        violationCount++;
        const kind = `${c.port} ${why.replace(/\d{3,}/g, "N").slice(0, 100)}`;
        kinds[kind] ??= { count: 0, first: i, label: c.label, method: c.method.name };
        kinds[kind].count++;
        if (violations.length < maxViolations) violations.push({ index: i, port: c.port, method: c.method.name, label: c.label, why });
      }
      const m = answer.message;
      if (answer.code === 0 && typeof m?.permit === "string" && m.permit !== "") {
        const circuit = c.method.name === "AcquireAny" ? m.circuit : c.request?.circuit;
        if (typeof circuit === "string") notePermit(m.permit, circuit);
        permits.push(m.permit);
        if (permits.length > 64) permits.shift();
      }
      if ((i + 1) % probeEvery === 0) {
        await probe(i);
        onProgress?.(i + 1, counts);
      }
    }
    await probe(iterations);
  } finally {
    wire.close();
  }
  return { seed, iterations, counts, violations, violationCount, kinds, probes };
}

const CODE_NAMES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

/** The gRPC code's name (OK, INVALID_ARGUMENT, ...). */
export function codeName(code) {
  return CODE_NAMES[code] ?? String(code);
}
