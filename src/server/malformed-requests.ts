/**
 * MALFORMED_REQUEST on the HTTP port, as on the gRPC port (grpc-adapter.ts):
 * a request body that does not decode as the method's request message is
 * INVALID_ARGUMENT with ErrorInfo MALFORMED_REQUEST, whatever the protocol.
 *
 * Left to itself connect-node answers an undecodable binary body with
 * INTERNAL and the parser's message (its binary serialization wraps every
 * decode error in Code.Internal), and an undecodable JSON body with
 * INVALID_ARGUMENT without details; neither passes through interceptors,
 * because the body is parsed before them. So each CircuitService handler is
 * wrapped: it reads the body (one message, uncompressed), decodes it as
 * connect-node would, and when that fails hands connect-node an empty
 * message instead, with the decoder's complaint in the context, where
 * {@link refuseMalformedRequests} turns it into the error. Bodies it cannot
 * judge (compressed, several messages, over the read limit) go to
 * connect-node unchanged. The HTTP port is not the hot path: the second
 * decode of a well-formed body is the price.
 */
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { createContextKey, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { malformedRequestError } from "./status.js";

/** The decoder's complaint about the request body, when it did not decode. */
const malformedKey = createContextKey<string | undefined>(undefined, { description: "breakerbox malformed request" });

/** How a content-type frames its message: bare (Connect unary) or in 5-byte envelopes (streaming, gRPC-Web). */
function framingOf(contentType: string | null): { enveloped: boolean; json: boolean } | undefined {
  const type = (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
  switch (type) {
    case "application/proto":
      return { enveloped: false, json: false };
    case "application/json":
      return { enveloped: false, json: true };
    case "application/connect+proto":
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return { enveloped: true, json: false };
    case "application/connect+json":
    case "application/grpc-web+json":
      return { enveloped: true, json: true };
    default:
      return undefined;
  }
}

/** The decoder's message when `bytes` is not a `schema` message as connect-node reads it, else undefined. */
function decodeProblem(schema: DescMessage, bytes: Uint8Array, json: boolean): string | undefined {
  try {
    if (json) fromJsonString(schema, new TextDecoder("utf-8", { fatal: true }).decode(bytes), { ignoreUnknownFields: true });
    else fromBinary(schema, bytes);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** `chunks`, then whatever `rest` still yields (or throws). */
async function* replay(chunks: Uint8Array[], rest: AsyncIterator<Uint8Array> | undefined, failure?: unknown): AsyncGenerator<Uint8Array> {
  yield* chunks;
  if (failure !== undefined) throw failure;
  if (rest === undefined) return;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** The empty message in the framing: it decodes as every request message. */
function emptyBody(enveloped: boolean, json: boolean): Uint8Array {
  const message = json ? new TextEncoder().encode("{}") : new Uint8Array(0);
  if (!enveloped) return message;
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** Wraps one universal handler (see the module comment). */
function judgeBodies(handler: UniversalHandler, readMaxBytes: number): UniversalHandler {
  const schema = handler.method.input;
  const judged = async (req: Parameters<UniversalHandler>[0]) => {
    const framing = framingOf(req.header.get("content-type"));
    const body = req.body;
    const compressed = ["content-encoding", "connect-content-encoding", "grpc-encoding"].some((h) => {
      const v = req.header.get(h);
      return v !== null && v !== "identity";
    });
    if (framing === undefined || compressed || req.method !== "POST" || typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) {
      return handler(req);
    }
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    let length = 0;
    try {
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        chunks.push(next.value);
        length += next.value.length;
        // Over the limit: connect-node refuses it (RESOURCE_EXHAUSTED) as it reads the rest.
        if (length > readMaxBytes + 5) return handler({ ...req, body: replay(chunks, iterator) });
      }
    } catch (err) {
      return handler({ ...req, body: replay(chunks, undefined, err) });
    }
    const bytes = concat(chunks, length);
    let message: Uint8Array | undefined = bytes;
    if (framing.enveloped) {
      const declared = bytes.length >= 5 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(1) : -1;
      // Only one uncompressed envelope is judged here; connect-node refuses the rest itself.
      message = bytes.length >= 5 && bytes[0] === 0 && declared === bytes.length - 5 ? bytes.subarray(5) : undefined;
    }
    const problem = message === undefined ? undefined : decodeProblem(schema, message, framing.json);
    if (problem === undefined) return handler({ ...req, body: replay([bytes], undefined) });
    req.contextValues?.set(malformedKey, problem);
    const empty = emptyBody(framing.enveloped, framing.json);
    // connect-node checks the body against content-length.
    const header = new Headers(req.header);
    header.set("content-length", String(empty.length));
    return handler({ ...req, header, body: replay([empty], undefined) });
  };
  return Object.assign(judged, {
    requestPath: handler.requestPath,
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
    method: handler.method,
    service: handler.service,
  }) as UniversalHandler;
}

/**
 * Wraps the handlers `router` has for `typeName`'s methods so undecodable
 * bodies reach {@link refuseMalformedRequests}; call right after
 * `router.service(...)` for the service.
 */
export function judgeRequestBodies(router: ConnectRouter, typeName: string, readMaxBytes: number): void {
  const handlers = router.handlers as UniversalHandler[];
  for (let i = 0; i < handlers.length; i++) {
    const h = handlers[i]!;
    if (h.service.typeName === typeName) handlers[i] = judgeBodies(h, readMaxBytes);
  }
}

/**
 * The Connect interceptor that answers INVALID_ARGUMENT MALFORMED_REQUEST
 * for a request whose body {@link judgeRequestBodies} found undecodable,
 * before any service interceptor (access control included) runs, as the
 * gRPC port refuses it before its handler.
 */
export function refuseMalformedRequests(): Interceptor {
  return (next) => async (req) => {
    const problem = req.contextValues.get(malformedKey);
    if (problem !== undefined) throw malformedRequestError(req.method.input.typeName, problem);
    return next(req);
  };
}
