/**
 * Watch fan-out, encoded once: a log entry (event, config_change,
 * circuit_removed) goes to every stream that watches its circuit, and all of
 * them send the same `kind`; only `resume_token` differs, and only between
 * filters (streams of one filter share their tokens, watch-hub.ts). So the
 * entry is converted to its protobuf `kind` once (circuit-service.ts,
 * {@link sharedWatchKind}) and, on the gRPC port, serialized once: the
 * WatchResponse encoder ({@link encodeWatchResponse}) writes the shared
 * `kind` bytes followed by the stream's `resume_token` field, and hands
 * the next stream with the same token as the last one the very same Buffer
 * (streams of one filter, which share their tokens, mostly come in a row).
 *
 * What one stream alone sends (snapshot, status, heartbeat,
 * snapshot_complete) is not shared and goes through toBinary as before.
 *
 * The bytes are what toBinary writes for the whole message: protobuf-es
 * writes fields in number order, the oneof (fields 1-7) before
 * resume_token (8), and a WatchResponse made here carries no other field
 * and no unknown fields (test/server/watch-encoding.test.ts compares them).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { varintSize, writeVarint } from "./varint.js";
import { type WatchResponse, WatchResponseSchema } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";

/** A shared `kind`'s bytes, and the last whole message made from them (the token streams of one filter share). */
interface Encoded {
  kind: Buffer | undefined;
  token: string;
  message: Buffer | undefined;
}

/** Shared `kind` values (their `value` message, an object), with what is known of their encoding. */
const sharedKinds = new WeakMap<object, Encoded>();

/**
 * Marks `kind` as one that many streams send (one log entry's), so
 * {@link encodeWatchResponse} encodes it once. Answers `kind`.
 */
export function sharedWatchKind(kind: WatchResponse["kind"]): WatchResponse["kind"] {
  // A fresh `kind` (circuit-service.ts converts each entry once): not known here yet.
  if (kind.value !== undefined) sharedKinds.set(kind.value, { kind: undefined, token: "", message: undefined });
  return kind;
}

/** The WatchResponse's bytes, as toBinary writes them; a shared `kind` is serialized once for all streams. */
export function encodeWatchResponse(m: WatchResponse): Buffer {
  const encoded = m.kind.value === undefined ? undefined : sharedKinds.get(m.kind.value);
  if (encoded === undefined) return wrap(toBinary(WatchResponseSchema, m));
  if (encoded.message !== undefined && encoded.token === m.resumeToken) return encoded.message;
  encoded.kind ??= wrap(toBinary(WatchResponseSchema, create(WatchResponseSchema, { kind: m.kind })));
  const kind = encoded.kind;
  const tokenBytes = Buffer.byteLength(m.resumeToken, "utf8");
  const size = kind.length + (tokenBytes === 0 ? 0 : 1 + varintSize(tokenBytes) + tokenBytes);
  const buf = Buffer.allocUnsafe(size);
  kind.copy(buf, 0);
  if (tokenBytes > 0) {
    buf[kind.length] = 0x42; // field 8, length-delimited
    buf.write(m.resumeToken, writeVarint(buf, kind.length + 1, tokenBytes), "utf8");
  }
  encoded.token = m.resumeToken;
  encoded.message = buf;
  return buf;
}

function wrap(bytes: Uint8Array): Buffer {
  // grpc-js copies the result into its frame: wrap, don't copy.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
