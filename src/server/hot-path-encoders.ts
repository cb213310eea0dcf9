/**
 * Hand-written protobuf encoders for the replies of the hot path, Acquire
 * and Report. protobuf-es's toBinary walks the schema by reflection; for
 * these two small messages writing the bytes directly costs a fifteenth of
 * that, and the reply encoding was half of Acquire's gap to the no-op RPC
 * (docs/benchmarks.md). Every other message goes through toBinary.
 *
 * The output is byte-for-byte what toBinary writes (fields in number order,
 * proto3 defaults omitted), which test/server/hot-path-encoders.test.ts
 * checks against protobuf-es for every combination of set fields.
 */
import type { Message } from "@bufbuild/protobuf";
import type { AcquireResponse, ReportResponse, WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { varintSize, writeVarint } from "./varint.js";
import { encodeWatchResponse } from "./watch-encoding.js";

/** Encoders by message type name, for {@link AddServiceOptions.encoders}. */
export type MessageEncoders = ReadonlyMap<string, (message: Message) => Buffer>;

/** An enum or int32 as protobuf writes it: negatives take ten bytes (sign-extended to 64 bits). */
function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function writeInt32(buf: Buffer, pos: number, n: number): number {
  if (n >= 0) return writeVarint(buf, pos, n);
  let v = BigInt.asUintN(64, BigInt(n));
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

export function encodeAcquireResponse(m: AcquireResponse): Buffer {
  const permitBytes = m.permit === "" ? 0 : Buffer.byteLength(m.permit, "utf8");
  const retry = m.retryAfter;
  // Durations here are never negative or beyond 2^53 s (validated at the edge).
  const seconds = retry === undefined ? 0 : Number(retry.seconds);
  const nanos = retry === undefined ? 0 : retry.nanos;
  const durationBytes = retry === undefined ? 0 : (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + int32Size(nanos) : 0);
  const size =
    (m.allowed ? 2 : 0) +
    (permitBytes > 0 ? 1 + varintSize(permitBytes) + permitBytes : 0) +
    (m.state !== 0 ? 1 + int32Size(m.state) : 0) +
    (retry !== undefined ? 1 + varintSize(durationBytes) + durationBytes : 0) +
    (m.reason !== 0 ? 1 + int32Size(m.reason) : 0) +
    (m.shadowDenied ? 2 : 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (m.allowed) {
    buf[pos++] = 0x08;
    buf[pos++] = 1;
  }
  if (permitBytes > 0) {
    buf[pos++] = 0x12;
    pos = writeVarint(buf, pos, permitBytes);
    pos += buf.write(m.permit, pos, "utf8");
  }
  if (m.state !== 0) {
    buf[pos++] = 0x18;
    pos = writeInt32(buf, pos, m.state);
  }
  if (retry !== undefined) {
    buf[pos++] = 0x22;
    pos = writeVarint(buf, pos, durationBytes);
    if (seconds !== 0) {
      buf[pos++] = 0x08;
      pos = writeVarint(buf, pos, seconds);
    }
    if (nanos !== 0) {
      buf[pos++] = 0x10;
      pos = writeInt32(buf, pos, nanos);
    }
  }
  if (m.reason !== 0) {
    buf[pos++] = 0x28;
    pos = writeInt32(buf, pos, m.reason);
  }
  if (m.shadowDenied) {
    buf[pos++] = 0x30;
    buf[pos++] = 1;
  }
  return buf;
}

export function encodeReportResponse(m: ReportResponse): Buffer {
  const size =
    (m.state !== 0 ? 1 + int32Size(m.state) : 0) +
    (m.duplicate ? 2 : 0) +
    (m.stale ? 2 : 0) +
    (m.disposition !== 0 ? 1 + int32Size(m.disposition) : 0) +
    (m.recordedOutcome !== 0 ? 1 + int32Size(m.recordedOutcome) : 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (m.state !== 0) {
    buf[pos++] = 0x08;
    pos = writeInt32(buf, pos, m.state);
  }
  if (m.duplicate) {
    buf[pos++] = 0x10;
    buf[pos++] = 1;
  }
  if (m.stale) {
    buf[pos++] = 0x18;
    buf[pos++] = 1;
  }
  if (m.disposition !== 0) {
    buf[pos++] = 0x20;
    pos = writeInt32(buf, pos, m.disposition);
  }
  if (m.recordedOutcome !== 0) {
    buf[pos++] = 0x28;
    writeInt32(buf, pos, m.recordedOutcome);
  }
  return buf;
}

/** The hot-path encoders CircuitService's gRPC listener uses (and Watch's fan-out encoder, watch-encoding.ts). */
export const HOT_PATH_ENCODERS: MessageEncoders = new Map<string, (message: Message) => Buffer>([
  ["breakerbox.v1.AcquireResponse", (m) => encodeAcquireResponse(m as AcquireResponse)],
  ["breakerbox.v1.ReportResponse", (m) => encodeReportResponse(m as ReportResponse)],
  ["breakerbox.v1.WatchResponse", (m) => encodeWatchResponse(m as WatchResponse)],
]);
