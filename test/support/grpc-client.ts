/**
 * A grpc-js client for breakerbox.v1.CircuitService, on the generic calls of
 * grpc-call.ts, with promise and async-iterator helpers so tests read as the
 * calls they make.
 */
import type { MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { serverStream, unary } from "./grpc-call.js";
import { within } from "./within.js";

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

function callError(e: unknown): unknown {
  const err = e as Partial<grpc.ServiceError>;
  return typeof err.code === "number" ? new CallError(err.code, err.details ?? "") : e;
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

/**
 * Connects to `address` (host:port) over plaintext HTTP/2, or with `credentials` (TLS).
 * `options` are grpc-js channel options (e.g. `grpc.use_local_subchannel_pool`: its own
 * connection rather than one shared with other clients of the same address).
 */
export function createCircuitClient(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): CircuitClient {
  const client = new grpc.Client(address, credentials, options);
  return {
    async call(method, request, headers) {
      const desc = CircuitService.method[method] as Methods[typeof method];
      try {
        return (await unary(client, desc as never, request as never, headers === undefined ? {} : { headers })).message as never;
      } catch (e) {
        throw callError(e);
      }
    },
    stream(method, request) {
      const call = serverStream(client, CircuitService.method[method] as never, request as never);
      const messages = (async function* () {
        try {
          for await (const m of call) yield m as never;
        } catch (e) {
          throw callError(e);
        }
      })();
      return { messages, cancel: () => call.cancel(), call };
    },
    close: () => client.close(),
  };
}

/** Reads the next message of a stream within `ms`, or fails naming what was awaited. */
export async function nextWithin<T>(it: AsyncIterator<T>, ms: number, what: string): Promise<T> {
  const r = await within(it.next(), ms, what);
  if (r.done) throw new Error(`stream ended while waiting for ${what}`);
  return r.value;
}
