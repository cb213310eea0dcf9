/**
 * The gRPC transport of the SDK: @grpc/grpc-js with the protobuf-es schemas of
 * gen/ts (copied into src/gen by the build), the same wire path as any foreign gRPC client.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CircuitService } from "./gen/breakerbox/v1/breakerbox_pb.js";
import { detailsOfStatusBytes } from "./error-details.js";
import { BreakerboxRpcError } from "./errors.js";
import { loadTraceContext, traceInjector } from "./trace-context.js";

type Methods = typeof CircuitService.method;
type UnaryName = Exclude<keyof Methods, "watch">;

/** Options of the gRPC transport. */
export interface GrpcTransportOptions {
  /** host:port of a Breakerbox gRPC listener. */
  address: string;
  /** Channel credentials; plaintext (insecure) by default. Not together with `tls`. */
  credentials?: grpc.ChannelCredentials;
  /** TLS instead of plaintext; see {@link ClientTlsOptions}. Not together with `credentials`. */
  tls?: boolean | ClientTlsOptions;
  /** Sent as `authorization: Bearer <apiKey>` with every call, Watch included. */
  apiKey?: string;
  /** Sent with every call. Not `authorization` together with `apiKey`. */
  metadata?: Record<string, string>;
  /** Deadline of each unary RPC in ms (default 2000, as the client sets it). */
  rpcTimeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/**
 * TLS to the service. `tls: true` trusts the system's CAs; `rootCert` trusts
 * this CA instead (PEM), e.g. a private CA or a self-signed certificate.
 * `clientCert` and `clientKey` (PEM, both or neither) authenticate this
 * client when the server requires client certificates.
 */
export interface ClientTlsOptions {
  rootCert?: string | Buffer;
  clientCert?: string | Buffer;
  clientKey?: string | Buffer;
}

const pem = (v: string | Buffer | undefined): Buffer | null => (v === undefined ? null : Buffer.from(v));

/**
 * The channel credentials `options` ask for: `credentials` as given, TLS
 * from `tls`, else plaintext. Throws TypeError for contradicting options.
 */
export function channelCredentials(options: Pick<GrpcTransportOptions, "credentials" | "tls">): grpc.ChannelCredentials {
  const { credentials, tls } = options;
  if (credentials !== undefined && tls !== undefined && tls !== false) throw new TypeError("give either tls or credentials, not both");
  if (credentials !== undefined) return credentials;
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure();
  const o = tls === true ? {} : tls;
  if ((o.clientCert === undefined) !== (o.clientKey === undefined)) throw new TypeError("tls.clientCert and tls.clientKey go together");
  return grpc.credentials.createSsl(pem(o.rootCert), pem(o.clientKey), pem(o.clientCert));
}

/** The metadata of every call: `metadata` plus the API key as a Bearer token. */
export function callMetadata(options: Pick<GrpcTransportOptions, "apiKey" | "metadata">): Record<string, string> {
  const headers = { ...options.metadata };
  if (options.apiKey !== undefined) {
    if (Object.keys(headers).some((k) => k.toLowerCase() === "authorization")) {
      throw new TypeError("give either apiKey or an authorization entry in metadata, not both");
    }
    if (options.apiKey.trim() === "") throw new TypeError("apiKey is empty");
    headers["authorization"] = `Bearer ${options.apiKey.trim()}`;
  }
  return headers;
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

/**
 * Converts a grpc-js ServiceError to a BreakerboxRpcError, with the details of
 * its `grpc-status-details-bin` trailer; other values pass through.
 */
export function rpcError(e: unknown): unknown {
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err?.code !== "number") return e;
  const bin = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  const details = detailsOfStatusBytes(Buffer.isBuffer(bin) ? bin : undefined);
  return new BreakerboxRpcError(err.code, grpc.status[err.code] ?? String(err.code), err.details ?? "", details);
}

/** The trailer a gRPC server sends error details in (a binary google.rpc.Status). */
const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/** Creates the grpc-js transport (one channel for every call). */
export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  const headers = Object.entries(callMetadata(options));
  const client = new grpc.Client(options.address, channelCredentials(options), options.channelOptions);
  const rpcTimeoutMs = options.rpcTimeoutMs ?? 2000;
  // The caller's OpenTelemetry context, when @opentelemetry/api is installed (trace-context.ts).
  void loadTraceContext();
  const metadata = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    for (const [k, v] of headers) m.set(k, v);
    traceInjector()?.(m);
    return m;
  };
  const transport: Transport = {
    unary(method, request, signal) {
      // Only the calls made before the optional import settled wait for it (the context survives the hop).
      if (traceInjector() === undefined) return loadTraceContext().then(() => transport.unary(method, request, signal));
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
          await loadTraceContext();
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
  return transport;
}
