/**
 * Minimal grpc-js client calls for any protobuf-es method descriptor, so the
 * transport tests talk to the server exactly as a foreign gRPC client would:
 * HTTP/2, the gRPC wire format, real status codes.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

export { grpc };

/** Connects to 127.0.0.1:`port` over plaintext HTTP/2. */
export function connect(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function encoder(schema: DescMessage) {
  return (message: MessageShape<DescMessage>): Buffer => Buffer.from(toBinary(schema, message));
}

function decoder<O extends DescMessage>(schema: O) {
  return (bytes: Buffer): MessageShape<O> => fromBinary(schema, bytes);
}

function metadataOf(headers: Record<string, string> | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers ?? {})) metadata.set(key, value);
  return metadata;
}

/** A unary call's full outcome. */
export interface UnaryResult<O> {
  message: O;
  header: grpc.Metadata;
  trailer: grpc.Metadata;
}

/** Calls a unary method; rejects with the grpc-js ServiceError (code, details, metadata). */
export function unary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: { input: I; output: O } & DescMethod,
  request: MessageInitShape<I>,
  options: { headers?: Record<string, string>; deadlineMs?: number } = {},
): Promise<UnaryResult<MessageShape<O>>> {
  return new Promise((resolve, reject) => {
    let header = new grpc.Metadata();
    let outcome: { err: grpc.ServiceError | null; message: unknown } | undefined;
    const call = client.makeUnaryRequest(
      pathOf(method),
      encoder(method.input),
      decoder(method.output),
      create(method.input, request),
      metadataOf(options.headers),
      { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
      (err, message) => {
        outcome = { err, message };
      },
    );
    call.on("metadata", (m: grpc.Metadata) => (header = m));
    // grpc-js runs the callback before it emits 'status' (which has the trailers).
    call.on("status", (status: grpc.StatusObject) => {
      if (outcome === undefined || outcome.err !== null) reject(outcome?.err ?? new Error(status.details));
      else resolve({ message: outcome.message as MessageShape<O>, header, trailer: status.metadata });
    });
  });
}

/** Sends raw bytes as the request body of a unary method (for malformed-input tests). */
export function unaryRaw<O extends DescMessage>(
  client: grpc.Client,
  method: { output: O } & DescMethod,
  body: Buffer,
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      pathOf(method),
      (b: Buffer) => b,
      decoder(method.output),
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, message) => (err !== null ? reject(err) : resolve(message as MessageShape<O>)),
    );
  });
}

/** Opens a server stream; the returned call is an async iterable of decoded messages. */
export function serverStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: { input: I; output: O } & DescMethod,
  request: MessageInitShape<I>,
  options: { headers?: Record<string, string> } = {},
): grpc.ClientReadableStream<MessageShape<O>> {
  return client.makeServerStreamRequest(
    pathOf(method),
    encoder(method.input),
    decoder(method.output),
    create(method.input, request),
    metadataOf(options.headers),
    {},
  );
}

/** Opens a bidi stream: write request messages, iterate responses. */
export function bidiStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: { input: I; output: O } & DescMethod,
): grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>> {
  return client.makeBidiStreamRequest(pathOf(method), encoder(method.input), decoder(method.output), new grpc.Metadata(), {});
}

/** Opens a client stream; write requests, end(), and await the single response. */
export function clientStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: { input: I; output: O } & DescMethod,
): { call: grpc.ClientWritableStream<MessageShape<I>>; response: Promise<MessageShape<O>> } {
  let call!: grpc.ClientWritableStream<MessageShape<I>>;
  const response = new Promise<MessageShape<O>>((resolve, reject) => {
    call = client.makeClientStreamRequest(
      pathOf(method),
      encoder(method.input),
      decoder(method.output),
      new grpc.Metadata(),
      {},
      (err, message) => (err ? reject(err) : resolve(message as MessageShape<O>)),
    );
  });
  return { call, response };
}

/** Waits for the stream's final status (resolves for OK and errors alike). */
export function statusOf(call: grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>): Promise<grpc.StatusObject> {
  return new Promise((resolve) => call.on("status", resolve));
}

/** Reads the next `count` messages of a stream. */
export async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}
