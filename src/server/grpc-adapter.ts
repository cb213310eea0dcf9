/**
 * Serves Connect-style service implementations (`ServiceImpl` from
 * @connectrpc/connect) on a @grpc/grpc-js `Server`, with messages encoded by the
 * protobuf-es generated schemas. One implementation object can so be registered
 * on both our listeners: this adapter for the grpc-js port, connect-node's
 * router for the HTTP port.
 *
 * Written for the Acquire/Report hot path: a unary call costs one context
 * object with lazy getters, one decode and one encode. No AbortController,
 * Headers or ContextValues is allocated unless the handler reads it, and a
 * handler that returns synchronously is answered without an extra promise hop.
 * Interceptors (interceptor.ts) are composed with each handler once, at
 * registration, so the chain costs no allocation per call here.
 *
 * Over 400 lines because the adapter and its lazy call context are one
 * hot-path unit: the context's fast paths (requestHeaderOf, context values)
 * need its private state.
 */
import { create, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues } from "@connectrpc/connect";
import type { ContextKey, ContextValues, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import type {
  sendUnaryData,
  Server,
  ServerDuplexStream,
  MethodDefinition,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  StatusObject,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Readable, Writable } from "node:stream";
import { statusDetailsBin } from "./error-details.js";
import { interceptMethod, isThenable, type Interceptor, type MethodHandler } from "./interceptor.js";
import { internalError, malformedRequestError } from "./status.js";

/** How near its deadline a cancelled call counts as having hit the deadline. */
const DEADLINE_SLACK_MS = 100;

/** Options of {@link addService}. */
export interface AddServiceOptions {
  /**
   * Called once for every value a handler throws (or a stream fails with) that
   * is not a ConnectError, before the client gets INTERNAL "internal error".
   * The place to log it: the client never sees the original message, so
   * internals (connection strings, stack traces) do not leak. Must not throw.
   * Not called for ConnectErrors, for undecodable requests, or for errors a
   * handler raises after the client cancelled.
   */
  onInternalError?: (err: unknown, method: DescMethod) => void;
  /**
   * Encoders by response type name that replace toBinary for those types
   * (the hot path's replies, see hot-path-encoders.ts). They must write what
   * toBinary writes; messages they get never carry unknown fields.
   */
  encoders?: ReadonlyMap<string, (message: Message) => Buffer>;
  /**
   * Wrap each implemented method's handler, the first outermost (see
   * interceptor.ts). Composed once per method here, at registration; what
   * an interceptor throws then is thrown by addService. Default: none.
   */
  interceptors?: readonly Interceptor[];
}

/**
 * Context value holding the caller's address ("ip:port", "unknown" if the
 * socket is gone). Set by this adapter and by `createHttpServer`, so a handler
 * reads `ctx.values.get(peerKey)` the same way on both listeners.
 */
export const peerKey = createContextKey<string>("", { description: "breakerbox peer address" });

/**
 * The context handlers get on the gRPC port: a complete Connect
 * `HandlerContext` (protocolName "grpc", requestMethod "POST") plus `peer`.
 *
 * - `signal` aborts when the client cancels, the deadline passes, or the call
 *   ends (also after a successful response), like connect-node's.
 * - `requestHeader` holds the request metadata; binary ("-bin") values are
 *   base64, as in Connect.
 * - `responseHeader` is sent before the first response message (unary: with
 *   the response); set it before the first `yield`. `responseTrailer` is sent
 *   with the status, also on errors. Keys ending in "-bin" must hold base64.
 *
 * The fields are lazy getters on a class instance: read them, do not spread or
 * clone the context (`{...ctx}` drops them).
 */
export interface GrpcHandlerContext extends HandlerContext {
  /** Caller address, "ip:port", or "unknown". */
  readonly peer: string;
}

/**
 * The value of request header `name` (lower case, e.g. "authorization"), or
 * undefined when the call has none; several values are joined with ", " as
 * `Headers.get` does. Works on any HandlerContext; on the gRPC port it reads
 * the call's metadata directly instead of building the whole
 * `ctx.requestHeader`, which matters on the Acquire/Report hot path.
 * Binary ("-bin") metadata is not text and reads as undefined here.
 */
export function requestHeaderOf(ctx: HandlerContext, name: string): string | undefined {
  if (ctx instanceof CallContext) return ctx.metadataText(name);
  return ctx.requestHeader.get(name) ?? undefined;
}

/**
 * Sets context value `key` for the rest of the call: how an interceptor hands
 * what it found (e.g. the authenticated caller) to inner interceptors and the
 * handler, which read it with {@link contextValueOf} or `ctx.values`. Works on
 * any HandlerContext; on the gRPC port the first key set is held in the
 * context object itself, so the hot path does not build `ctx.values` for it.
 */
export function setContextValue<T>(ctx: HandlerContext, key: ContextKey<T>, value: T): void {
  if (ctx instanceof CallContext) ctx.setValue(key, value);
  else ctx.values.set(key, value);
}

/**
 * The call's value of `key` (its default when unset); the reading side of
 * {@link setContextValue}, equal to `ctx.values.get(key)` without building
 * `ctx.values` on the gRPC port.
 */
export function contextValueOf<T>(ctx: HandlerContext, key: ContextKey<T>): T {
  return ctx instanceof CallContext ? ctx.getValue(key) : ctx.values.get(key);
}

/**
 * Registers `impl` for `service` on a grpc-js server, at the paths
 * `/${service.typeName}/${method.name}`.
 *
 * Contract:
 * - Methods absent from `impl` answer UNIMPLEMENTED "<service>.<Method> is not
 *   implemented", the wording of Connect's router.
 * - A request that protobuf-es cannot decode answers INVALID_ARGUMENT "request
 *   could not be decoded as <type>: <reason>" with ErrorInfo reason
 *   MALFORMED_REQUEST; the handler is not called (for streamed requests the
 *   request iterable throws that ConnectError instead).
 * - A thrown ConnectError answers with status = `err.code` (Connect codes equal
 *   gRPC status numbers), details = `err.rawMessage`, and `err.metadata` added
 *   to the trailers. Its error details (`err.details`) travel as the
 *   `grpc-status-details-bin` trailer, a binary google.rpc.Status, as
 *   connect-node sends them on the HTTP port (error-details.ts).
 * - Anything else thrown answers INTERNAL "internal error" (ErrorInfo reason
 *   INTERNAL) and is passed to `options.onInternalError`.
 * - Handlers may return init objects instead of messages; they are completed
 *   with `create()`.
 * - Streaming responses honour backpressure (each write waits for 'drain' when
 *   the stream buffer is full), end with OK after the iterable completes, and,
 *   when the client cancels, stop pulling and call the iterator's `return()`.
 *   A handler blocked inside the iterable (not at a `yield`) must watch
 *   `ctx.signal` to notice the cancellation.
 *
 * - `options.interceptors` wrap every implemented method (not the
 *   UNIMPLEMENTED answers, nor requests that cannot be decoded).
 *
 * Registering the same service twice on one server throws (grpc-js refuses a
 * second handler for a path).
 */
export function addService<S extends DescService>(
  server: Server,
  service: S,
  impl: Partial<ServiceImpl<S>>,
  options: AddServiceOptions = {},
): void {
  // Requests stay Buffers until the handler decodes them (see requestDeserialize).
  const definition: Record<string, MethodDefinition<Buffer, Message>> = {};
  const implementation: UntypedServiceImplementation = {};
  const implRecord = impl as Record<string, unknown>;
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    definition[method.localName] = {
      path,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      // Identity: decoding happens in the handler, so that a malformed body
      // becomes INVALID_ARGUMENT (grpc-js answers INTERNAL when a deserializer
      // throws). The request side of this definition is therefore raw bytes.
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: options.encoders?.get(method.output.typeName) ?? serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
    const fn = implRecord[method.localName];
    if (typeof fn !== "function") {
      implementation[method.localName] = unimplementedHandler(method);
      continue;
    }
    const spec: MethodSpec = {
      method,
      service,
      path,
      impl: interceptMethod(method, (fn as MethodHandler).bind(impl), options.interceptors ?? []),
      onInternalError: options.onInternalError,
    };
    implementation[method.localName] = createHandler(spec);
  }
  server.addService(definition as ServiceDefinition, implementation);
}

// --- internals -------------------------------------------------------------

interface MethodSpec {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly path: string;
  /** The handler, interceptors included. */
  readonly impl: MethodHandler;
  readonly onInternalError: ((err: unknown, method: DescMethod) => void) | undefined;
}

/** What every grpc-js call object offers (grpc-js does not export its ServerSurfaceCall). */
type AnyCall = Omit<ServerUnaryCall<unknown, unknown>, "request">;
type StatusResponse = Partial<StatusObject>;
type WritableCall = AnyCall & Writable & { end(metadata?: Metadata): unknown };

function passThrough(bytes: Buffer): Buffer {
  return bytes;
}

function serializer(schema: DescMessage): (message: Message) => Buffer {
  return (message) => {
    const bytes = toBinary(schema, message);
    // grpc-js copies the result with Buffer#copy: wrap, don't copy.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => fromBinary(schema, bytes);
}

function decode(spec: MethodSpec, bytes: Buffer): Message {
  try {
    return fromBinary(spec.method.input, bytes);
  } catch (err) {
    throw malformedRequestError(spec.method.input.typeName, err instanceof Error ? err.message : undefined);
  }
}

function normalize(schema: DescMessage, value: unknown): Message {
  // Same rule as Connect's normalize(): handlers may return init shapes.
  return isMessage(value, schema) ? value : create(schema, value as never);
}

function createHandler(spec: MethodSpec): UntypedHandleCall {
  switch (spec.method.methodKind) {
    case "unary":
      return (call: ServerUnaryCall<Buffer, Message>, callback: sendUnaryData<Message>) =>
        handleUnary(spec, call as ServerUnaryCall<Buffer, Message> & AnyCall, callback);
    case "server_streaming":
      return (call: ServerWritableStream<Buffer, Message>) => handleServerStreaming(spec, call);
    case "client_streaming":
      return (call: ServerReadableStream<Buffer, Message>, callback: sendUnaryData<Message>) =>
        handleClientStreaming(spec, call, callback);
    case "bidi_streaming":
      return (call: ServerDuplexStream<Buffer, Message>) => handleBidiStreaming(spec, call);
  }
}

/** Same message as Connect's router, so both ports say the same thing. */
function unimplementedHandler(method: DescMethod): UntypedHandleCall {
  const status: StatusResponse = {
    code: GrpcStatus.UNIMPLEMENTED,
    details: `${method.parent.typeName}.${method.name} is not implemented`,
  };
  switch (method.methodKind) {
    case "unary":
    case "client_streaming":
      return (_call: ServerUnaryCall<Buffer, Message>, callback: sendUnaryData<Message>) => callback(status);
    case "server_streaming":
    case "bidi_streaming":
      return (call: ServerWritableStream<Buffer, Message>) => endStreamWithError(call as unknown as WritableCall, status);
  }
}

function handleUnary(
  spec: MethodSpec,
  call: ServerUnaryCall<Buffer, Message> & AnyCall,
  callback: sendUnaryData<Message>,
): void {
  let request: Message;
  try {
    request = decode(spec, call.request);
  } catch (err) {
    callback(errorStatus(spec, undefined, err));
    return;
  }
  const ctx = new CallContext(call, spec);
  let result: unknown;
  try {
    result = spec.impl(request, ctx);
  } catch (err) {
    finishUnary(spec, ctx, call, callback, err, undefined);
    return;
  }
  if (isThenable(result)) {
    result.then(
      (value) => finishUnary(spec, ctx, call, callback, undefined, value),
      (err: unknown) => finishUnary(spec, ctx, call, callback, err ?? new Error("rejected"), undefined),
    );
  } else {
    finishUnary(spec, ctx, call, callback, undefined, result);
  }
}

function handleClientStreaming(
  spec: MethodSpec,
  call: ServerReadableStream<Buffer, Message>,
  callback: sendUnaryData<Message>,
): void {
  const anyCall = call as ServerReadableStream<Buffer, Message> & AnyCall;
  const ctx = new CallContext(anyCall, spec);
  let result: unknown;
  try {
    result = spec.impl(readRequests(spec, call), ctx);
  } catch (err) {
    finishUnary(spec, ctx, anyCall, callback, err, undefined);
    return;
  }
  Promise.resolve(result).then(
    (value) => finishUnary(spec, ctx, anyCall, callback, undefined, value),
    (err: unknown) => finishUnary(spec, ctx, anyCall, callback, err ?? new Error("rejected"), undefined),
  );
}

function finishUnary(
  spec: MethodSpec,
  ctx: CallContext,
  call: AnyCall,
  callback: sendUnaryData<Message>,
  err: unknown,
  value: unknown,
): void {
  if (call.cancelled) {
    // Nobody is listening; grpc-js would drop the answer anyway.
    ctx.completed = true;
    return;
  }
  let message: Message | undefined;
  if (err === undefined) {
    try {
      message = normalize(spec.method.output, value);
    } catch (normalizeErr) {
      err = normalizeErr;
    }
  }
  ctx.completed = true;
  ctx.flushHeader(call);
  if (message !== undefined) {
    callback(null, message, ctx.trailerMetadata());
  } else {
    callback(errorStatus(spec, ctx, err));
  }
}

function handleServerStreaming(spec: MethodSpec, call: ServerWritableStream<Buffer, Message>): void {
  const anyCall = call as unknown as WritableCall;
  let request: Message;
  try {
    request = decode(spec, call.request);
  } catch (err) {
    endStreamWithError(anyCall, errorStatus(spec, undefined, err));
    return;
  }
  const ctx = new CallContext(anyCall, spec);
  let output: unknown;
  try {
    output = spec.impl(request, ctx);
  } catch (err) {
    ctx.completed = true;
    endStreamWithError(anyCall, errorStatus(spec, ctx, err));
    return;
  }
  void pump(spec, ctx, anyCall, output);
}

function handleBidiStreaming(spec: MethodSpec, call: ServerDuplexStream<Buffer, Message>): void {
  const anyCall = call as unknown as WritableCall;
  const ctx = new CallContext(anyCall, spec);
  let output: unknown;
  try {
    output = spec.impl(readRequests(spec, call), ctx);
  } catch (err) {
    ctx.completed = true;
    endStreamWithError(anyCall, errorStatus(spec, ctx, err));
    return;
  }
  void pump(spec, ctx, anyCall, output);
}

/**
 * Decodes the request stream lazily. The iterator does not destroy the call
 * when the handler stops reading early (`destroyOnReturn: false`), because the
 * same duplex still carries the responses.
 */
async function* readRequests(spec: MethodSpec, call: Readable): AsyncGenerator<Message> {
  for await (const chunk of call.iterator({ destroyOnReturn: false })) {
    yield decode(spec, chunk as Buffer);
  }
}

/** Writes every message of the handler's iterable, then the status. Never rejects. */
async function pump(spec: MethodSpec, ctx: CallContext, call: WritableCall, output: unknown): Promise<void> {
  let iterator: AsyncIterator<unknown> | undefined;
  let finished = false;
  try {
    iterator = (output as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    for (;;) {
      if (call.cancelled) break;
      const next = await iterator.next();
      if (next.done === true) {
        finished = true;
        break;
      }
      if (call.cancelled) break;
      const message = normalize(spec.method.output, next.value);
      ctx.flushHeader(call);
      if (!call.write(message)) {
        await drained(call);
      }
    }
  } catch (err) {
    finished = true; // a throwing iterator is done; no return() needed
    ctx.completed = true;
    if (!call.cancelled) {
      endStreamWithError(call, errorStatus(spec, ctx, err));
    }
    return;
  }
  ctx.completed = true;
  if (!finished && iterator?.return !== undefined) {
    // Cancelled between messages: let the handler run its finally blocks and
    // dispose of subscriptions.
    try {
      await iterator.return();
    } catch {
      // The client is gone; there is nobody to report this to.
    }
  }
  if (!call.cancelled) {
    ctx.flushHeader(call);
    call.end(ctx.trailerMetadata());
  }
}

/** Resolves when the stream can take more writes, or will never again. */
function drained(call: WritableCall): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off("drain", done);
      call.off("close", done);
      call.off("cancelled", done);
      resolve();
    };
    call.on("drain", done);
    call.on("close", done);
    call.on("cancelled", done);
  });
}

function endStreamWithError(call: WritableCall, status: StatusResponse): void {
  // grpc-js's documented way to fail a stream: its own 'error' listener
  // records the status and ends the call after buffered messages are flushed.
  call.emit("error", status);
}

/** The status a failed call ends with. Runs only on failure: the success path never builds details. */
function errorStatus(spec: MethodSpec, ctx: CallContext | undefined, err: unknown): StatusResponse {
  if (!(err instanceof ConnectError)) {
    try {
      spec.onInternalError?.(err, spec.method);
    } catch {
      // A failing logger must not turn into an unanswered call.
    }
    err = internalError();
  }
  const ce = err as ConnectError;
  const metadata = ctx?.trailerMetadata() ?? new Metadata();
  appendHeaders(metadata, ce.metadata);
  const details = statusDetailsBin(ce);
  if (details !== undefined) metadata.set(STATUS_DETAILS_KEY, details);
  // Connect's Code numbers are gRPC's status numbers by definition.
  return { code: ce.code as number as GrpcStatus, details: ce.rawMessage, metadata };
}

/** The trailer gRPC clients (grpcio-status, Go's status.FromError, grpcurl) read error details from. */
const STATUS_DETAILS_KEY = "grpc-status-details-bin";

function appendHeaders(target: Metadata, headers: Headers): void {
  headers.forEach((value, key) => {
    if (key.endsWith("-bin")) {
      target.add(key, Buffer.from(value, "base64"));
    } else {
      target.add(key, value);
    }
  });
}

function headersFromMetadata(metadata: Metadata): Headers {
  const headers = new Headers();
  const entries = metadata.toJSON();
  for (const key of Object.keys(entries)) {
    for (const value of entries[key] ?? []) {
      headers.append(key, typeof value === "string" ? value : value.toString("base64"));
    }
  }
  return headers;
}

/**
 * Lazy HandlerContext over a grpc-js call. Everything that allocates is
 * created on first access, so a unary handler that reads nothing costs one
 * object.
 */
class CallContext implements GrpcHandlerContext {
  /** Set when the adapter has decided the outcome; later aborts say "completed". */
  completed = false;
  private abortController: AbortController | undefined = undefined;
  private requestHeaders: Headers | undefined = undefined;
  private responseHeaders: Headers | undefined = undefined;
  private responseTrailers: Headers | undefined = undefined;
  private contextValues: ContextValues | undefined = undefined;
  // The first context value set before ctx.values was built (see setContextValue).
  private slotKey: ContextKey<unknown> | undefined = undefined;
  private slotValue: unknown = undefined;
  private headerSent = false;

  constructor(
    private readonly call: AnyCall,
    private readonly spec: MethodSpec,
  ) {}

  get method(): DescMethod {
    return this.spec.method;
  }

  get service(): DescService {
    return this.spec.service;
  }

  get protocolName(): string {
    return "grpc";
  }

  get requestMethod(): string {
    return "POST";
  }

  get url(): string {
    return `http://${this.call.getHost()}${this.spec.path}`;
  }

  get peer(): string {
    return this.call.getPeer();
  }

  get signal(): AbortSignal {
    if (this.abortController === undefined) {
      const controller = new AbortController();
      this.abortController = controller;
      if (this.call.cancelled) {
        controller.abort(this.abortReason());
      } else {
        // grpc-js emits 'cancelled' on client cancel, on deadline, and once the
        // status has been sent: exactly the "call ended" of HandlerContext.
        this.call.once("cancelled", () => controller.abort(this.abortReason()));
      }
    }
    return this.abortController.signal;
  }

  get timeoutMs(): () => number | undefined {
    return () => {
      const deadline = this.call.getDeadline();
      const at = deadline instanceof Date ? deadline.getTime() : deadline;
      return Number.isFinite(at) ? at - Date.now() : undefined;
    };
  }

  get requestHeader(): Headers {
    this.requestHeaders ??= headersFromMetadata(this.call.metadata);
    return this.requestHeaders;
  }

  /** See {@link requestHeaderOf}. */
  metadataText(name: string): string | undefined {
    const values = this.call.metadata.get(name);
    if (values.length === 1) return typeof values[0] === "string" ? values[0] : undefined;
    if (values.length === 0) return undefined;
    return values.every((v) => typeof v === "string") ? values.join(", ") : undefined;
  }

  get responseHeader(): Headers {
    this.responseHeaders ??= new Headers();
    return this.responseHeaders;
  }

  get responseTrailer(): Headers {
    this.responseTrailers ??= new Headers();
    return this.responseTrailers;
  }

  get values(): ContextValues {
    if (this.contextValues === undefined) {
      const values = createContextValues().set(peerKey, this.peer);
      if (this.slotKey !== undefined) values.set(this.slotKey, this.slotValue);
      this.contextValues = values;
    }
    return this.contextValues;
  }

  /** See {@link setContextValue}. */
  setValue<T>(key: ContextKey<T>, value: T): void {
    if (this.contextValues === undefined && (this.slotKey === undefined || this.slotKey === key)) {
      this.slotKey = key as ContextKey<unknown>;
      this.slotValue = value;
    } else {
      this.values.set(key, value);
    }
  }

  /** See {@link contextValueOf}. */
  getValue<T>(key: ContextKey<T>): T {
    if (this.contextValues === undefined && key !== peerKey) {
      return key === this.slotKey ? (this.slotValue as T) : key.defaultValue;
    }
    return this.values.get(key);
  }

  /** Sends responseHeader once, if the handler set any. */
  flushHeader(call: AnyCall): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const headers = this.responseHeaders;
    if (headers === undefined) return;
    let empty = true;
    headers.forEach(() => {
      empty = false;
    });
    if (empty) return;
    const metadata = new Metadata();
    appendHeaders(metadata, headers);
    call.sendMetadata(metadata);
  }

  /** The trailers the handler set, or undefined (grpc-js then sends none). */
  trailerMetadata(): Metadata | undefined {
    if (this.responseTrailers === undefined) return undefined;
    const metadata = new Metadata();
    appendHeaders(metadata, this.responseTrailers);
    return metadata;
  }

  private abortReason(): ConnectError {
    if (this.completed) {
      return new ConnectError("the call has ended", Code.Canceled);
    }
    const remaining = this.timeoutMs();
    // The server's deadline starts when the request arrived, the client's when
    // it was sent, so the client's deadline cancel reaches us a little before
    // ours expires (more so under load). A cancel that close to the deadline is
    // the deadline.
    if (remaining !== undefined && remaining <= DEADLINE_SLACK_MS) {
      return new ConnectError("the deadline has passed", Code.DeadlineExceeded);
    }
    return new ConnectError("the client cancelled the call", Code.Canceled);
  }
}
