/**
 * The gRPC listener: CircuitService on @grpc/grpc-js (the hot path), plus
 * grpc.health.v1.Health and server reflection v1 and v1alpha for grpcurl and
 * load balancers.
 */
import { HOT_PATH_ENCODERS } from "./hot-path-encoders.js";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { ServerOptions } from "@grpc/grpc-js";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { file_google_rpc_error_details } from "../../gen/ts/google/rpc/error_details_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { addService } from "./grpc-adapter.js";
import type { Interceptor } from "./interceptor.js";
import { createHealthImpl, HealthRegistry } from "./health.js";
import {
  createReflectionV1alphaImpl,
  createReflectionV1Impl,
  DescriptorIndex,
  loadDescriptorFiles,
} from "./reflection.js";

/** Options of {@link createGrpcServer}. */
export interface GrpcServerOptions {
  /** The CircuitService handlers; absent methods answer UNIMPLEMENTED. */
  circuitService: Partial<ServiceImpl<typeof CircuitService>>;
  /**
   * Serving status for grpc.health.v1.Health. Pass the same registry to the
   * HTTP server so both ports agree. Default: a new registry with "" SERVING.
   */
  health?: HealthRegistry;
  /**
   * Descriptors for reflection. Default: gen/descriptor/breakerbox.binpb (with
   * doc comments), read once here. Services whose files are missing from it
   * are described from their generated code, without comments.
   */
  descriptorFiles?: readonly FileDescriptorProto[];
  /**
   * Wrap every method of every service this server registers (CircuitService,
   * Health, reflection, and by default those given to `addService`), the first
   * outermost; see src/server/interceptor.ts. Composed once per method at
   * registration: what an interceptor throws then (e.g. an RPC without
   * declared access) is thrown by createGrpcServer. Pass the same list to the
   * HTTP server so both ports behave alike. Default: none.
   */
  interceptors?: readonly Interceptor[];
  /** Serve grpc.reflection v1 and v1alpha. Default true. */
  reflection?: boolean;
  /**
   * Called with every non-ConnectError a handler throws (the client gets
   * INTERNAL "internal error"); log it here. Must not throw.
   */
  onInternalError?: (err: unknown, method: DescMethod) => void;
  /**
   * grpc-js server options, merged over our defaults: server keepalive pings
   * every 60 s (20 s timeout) so dead Watch clients are noticed, and 4 MiB
   * maximum message size both ways.
   */
  serverOptions?: ServerOptions;
  /** Default: insecure (plaintext), for use behind a TLS-terminating proxy or in a cluster. */
  credentials?: ServerCredentials;
  /** Serve TLS with this certificate (shorthand for `credentials`; give one or the other). */
  tls?: ServerTlsOptions;
}

/** A listener's TLS certificate, as PEM text or bytes. The HTTP listener takes the same. */
export interface ServerTlsOptions {
  /** Certificate chain, the server's own certificate first. */
  cert: string | Buffer;
  /** The certificate's private key (unencrypted). */
  key: string | Buffer;
  /** When set, clients must present a certificate signed by one of these CAs (mutual TLS). */
  clientCa?: string | Buffer | undefined;
}

/** grpc-js credentials for `tls`; requires and verifies client certificates when `clientCa` is set. */
export function tlsServerCredentials(tls: ServerTlsOptions): ServerCredentials {
  const clientCa = tls.clientCa === undefined ? null : Buffer.from(tls.clientCa);
  return ServerCredentials.createSsl(clientCa, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], clientCa !== null);
}

/** Options of {@link GrpcServer.addService}. */
export interface RegisterServiceOptions {
  /** Interceptors for this service instead of the server's; `[]` for none. */
  interceptors?: readonly Interceptor[];
}

/** A gRPC listener built by {@link createGrpcServer}. */
export interface GrpcServer {
  /** The underlying grpc-js server, for what this wrapper does not cover. */
  readonly server: Server;
  /** The registry Health answers from (the one passed in, or the one created). */
  readonly health: HealthRegistry;
  /**
   * Registers one more service on the same stack (same adapter, error mapping
   * and reflection), e.g. the bench's no-op service, wrapped in
   * `options.interceptors` (default: the server's). Allowed before and after
   * `listen`. Throws if a service of that name is already registered, or what
   * an interceptor throws for one of its methods.
   */
  addService<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>, options?: RegisterServiceOptions): void;
  /**
   * Binds `host:port` (port 0 picks a free port) and starts serving. Resolves
   * to the bound port; rejects if the address cannot be bound. Call once.
   */
  listen(host: string, port: number): Promise<number>;
  /**
   * Graceful stop: marks health NOT_SERVING and ends Health Watch streams,
   * stops accepting connections and calls (GOAWAY), lets in-flight calls
   * finish, and after `graceMs` cancels whatever is still running (their
   * handlers see `ctx.signal` abort). Resolves when the server is closed.
   * Long-lived streams (CircuitService.Watch) hold the server for the whole
   * grace period unless the service layer ends them first. Idempotent.
   */
  shutdown(graceMs: number): Promise<void>;
}

const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  "grpc.keepalive_time_ms": 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
};

/**
 * Builds the gRPC server with CircuitService, Health and (unless disabled)
 * reflection v1 + v1alpha. Nothing listens until `listen`.
 */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  if (options.tls !== undefined && options.credentials !== undefined) throw new TypeError("give either tls or credentials, not both");
  const credentials =
    options.credentials ?? (options.tls === undefined ? ServerCredentials.createInsecure() : tlsServerCredentials(options.tls));
  const server = new Server({ ...DEFAULT_SERVER_OPTIONS, ...options.serverOptions });
  const health = options.health ?? new HealthRegistry();
  const serviceNames: string[] = [];
  const adapterOptions = {
    encoders: HOT_PATH_ENCODERS,
    ...(options.onInternalError !== undefined ? { onInternalError: options.onInternalError } : {}),
  };
  const reflectionEnabled = options.reflection ?? true;
  const index = reflectionEnabled
    ? new DescriptorIndex(options.descriptorFiles ?? loadDescriptorFiles())
    : undefined;
  // Error details travel as Any (grpc-status-details-bin); grpcurl resolves
  // their types through reflection, and breakerbox.proto does not import
  // error_details.proto, so serve it explicitly.
  index?.addFile(file_google_rpc_error_details);

  function register<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>, registerOptions: RegisterServiceOptions = {}): void {
    addService(server, service, impl, { ...adapterOptions, interceptors: registerOptions.interceptors ?? options.interceptors ?? [] });
    serviceNames.push(service.typeName);
    index?.addFile(service.file);
  }

  register(CircuitService, options.circuitService);
  register(Health, createHealthImpl(health));
  if (index !== undefined) {
    const reflectionOptions = { index, services: () => serviceNames };
    register(ServerReflectionV1, createReflectionV1Impl(reflectionOptions));
    register(ServerReflectionV1alpha, createReflectionV1alphaImpl(reflectionOptions));
  }

  let shutdownPromise: Promise<void> | undefined;

  return {
    server,
    health,
    addService: register,
    listen(host, port) {
      const address = host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, credentials, (err, bound) => {
          if (err !== null) reject(err);
          else resolve(bound);
        });
      });
    },
    shutdown(graceMs) {
      shutdownPromise ??= new Promise<void>((resolve) => {
        health.shutdown();
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return shutdownPromise;
    },
  };
}
