/**
 * The gRPC transport of the SDK: @grpc/grpc-js with the protobuf-es schemas of
 * gen/ts, the same wire path as any foreign gRPC client.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BreakerboxRpcError } from "./errors.js";

type Methods = typeof CircuitService.method;
type UnaryName = Exclude<keyof Methods, "watch">;

/** Options of the gRPC transport. */
export interface GrpcTransportOptions {
  /** host:port of a Breakerbox gRPC listener. */
  address: string;
  /** Channel credentials; plaintext (insecure) by default. */
  credentials?: grpc.ChannelCredentials;
  /** Sent with every call (e.g. `authorization`). */
  metadata?: Record<string, string>;
  /** Deadline of each unary RPC in ms (default 5000). */
  rpcTimeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/** The calls the SDK makes; one implementation per transport. */
export interface Transport {
  unary<K extends UnaryName>(
    method: K,
    request: MessageInitShape<Methods[K]["input"]>,
    signal?: AbortSignal,
  ): Promise<MessageShape<Methods[K]["output"]>>;
  /** Opens Watch; iterating yields messages, errors are BreakerboxRpcError. Aborting `signal` ends it. */
  watch(request: MessageInitShape<Methods["watch"]["input"]>, signal: AbortSignal): AsyncIterable<MessageShape<Methods["watch"]["output"]>>;
  close(): void;
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

const encoder = (schema: DescMessage) => (m: MessageShape<DescMessage>): Buffer => Buffer.from(toBinary(schema, m));
const decoder = (schema: DescMessage) => (b: Buffer) => fromBinary(schema, b);

/** Converts a grpc-js ServiceError to a BreakerboxRpcError; other values pass through. */
export function rpcError(e: unknown): unknown {
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err?.code !== "number") return e;
  return new BreakerboxRpcError(err.code, grpc.status[err.code] ?? String(err.code), err.details ?? "");
}

/** Creates the grpc-js transport (one channel for every call). */
export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  const client = new grpc.Client(options.address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions);
  const rpcTimeoutMs = options.rpcTimeoutMs ?? 5000;
  const metadata = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.metadata ?? {})) m.set(k, v);
    return m;
  };
  return {
    unary(method, request, signal) {
      const desc = CircuitService.method[method] as DescMethod;
      return new Promise((resolve, reject) => {
        if (signal?.aborted === true) return reject(signal.reason);
        const call = client.makeUnaryRequest(
          pathOf(desc),
          encoder(desc.input),
          decoder(desc.output),
          create(desc.input, request as never),
          metadata(),
          { deadline: Date.now() + rpcTimeoutMs },
          (err, message) => {
            signal?.removeEventListener("abort", onAbort);
            if (err !== null) reject(rpcError(err));
            else resolve(message as never);
          },
        );
        const onAbort = (): void => call.cancel();
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    watch(request, signal) {
      const desc = CircuitService.method.watch;
      return {
        async *[Symbol.asyncIterator]() {
          const call = client.makeServerStreamRequest(
            pathOf(desc),
            encoder(desc.input),
            decoder(desc.output),
            create(desc.input, request),
            metadata(),
            {},
          );
          const onAbort = (): void => call.cancel();
          signal.addEventListener("abort", onAbort, { once: true });
          try {
            for await (const m of call) yield m as MessageShape<Methods["watch"]["output"]>;
          } catch (e) {
            throw rpcError(e);
          } finally {
            signal.removeEventListener("abort", onAbort);
            call.cancel();
          }
        },
      };
    },
    close: () => client.close(),
  };
}
