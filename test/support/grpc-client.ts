/**
 * A grpc-js client for breakerbox.v1.CircuitService built from the
 * protobuf-es schemas (the same encoding the server uses), with promise and
 * async-iterator helpers so tests read as the calls they make.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";

type Methods = typeof CircuitService.method;

/** A failed call: the gRPC status code and details. */
export class CallError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${grpc.status[code]}: ${details}`);
  }
}

export interface CircuitClient {
  call<K extends keyof Methods>(
    method: K,
    request: MessageInitShape<Methods[K]["input"]>,
    metadata?: Record<string, string>,
  ): Promise<MessageShape<Methods[K]["output"]>>;
  /** Opens a server stream; iterate it, and call cancel() to end it early. */
  stream<K extends keyof Methods>(
    method: K,
    request: MessageInitShape<Methods[K]["input"]>,
  ): { messages: AsyncIterable<MessageShape<Methods[K]["output"]>>; cancel(): void; call: grpc.ClientReadableStream<unknown> };
  close(): void;
}

function definition(method: { name: string; input: DescMessage; output: DescMessage; methodKind: string }) {
  return {
    path: `/${CircuitService.typeName}/${method.name}`,
    requestStream: false,
    responseStream: method.methodKind === "server_streaming",
    requestSerialize: (m: MessageShape<DescMessage>) => Buffer.from(toBinary(method.input, m)),
    requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
    responseSerialize: (m: MessageShape<DescMessage>) => Buffer.from(toBinary(method.output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
  };
}

/** Connects to `address` (host:port) over plaintext HTTP/2. */
export function createCircuitClient(address: string): CircuitClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const toMetadata = (md: Record<string, string> | undefined): grpc.Metadata => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(md ?? {})) m.set(k, v);
    return m;
  };
  return {
    call(method, request, metadata) {
      const desc = CircuitService.method[method];
      const def = definition(desc);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          create(desc.input, request as never),
          toMetadata(metadata),
          { deadline: Date.now() + 10_000 },
          (err, res) => {
            if (err) reject(new CallError(err.code, err.details));
            else resolve(res as never);
          },
        );
      });
    },
    stream(method, request) {
      const desc = CircuitService.method[method];
      const def = definition(desc);
      const call = client.makeServerStreamRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        create(desc.input, request as never),
        new grpc.Metadata(),
        {},
      );
      const messages = (async function* () {
        try {
          for await (const m of call) yield m as never;
        } catch (e) {
          const err = e as grpc.ServiceError;
          throw new CallError(err.code, err.details);
        }
      })();
      return { messages, cancel: () => call.cancel(), call };
    },
    close: () => client.close(),
  };
}

/** Reads the next message of a stream within `ms`, or fails naming what was awaited. */
export async function nextWithin<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done) throw new Error(`stream ended while waiting for ${what}`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}
