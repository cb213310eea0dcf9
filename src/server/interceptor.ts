/**
 * Interceptors: the concerns every call of a method shares (access control,
 * RPC metrics, the error boundary), each written once and run on both
 * listeners, the grpc-js adapter and connect-node alike.
 *
 * The idea of Connect's interceptors (`(next) => async (req) => …`), moved to
 * the level of the service implementation's handlers, where both listeners
 * meet: connect-node's interceptors see Headers and a request object built
 * per call, which the grpc-js hot path does not build. Here an interceptor is
 * handed the method it wraps when the service is registered, so whatever it
 * needs per method (the required role, the metric series) is resolved once,
 * and a call through the chain is a few plain function calls: the chain adds
 * no closure or object per call.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";

/**
 * A method's handler as both adapters call it: `request` is the decoded
 * message (an AsyncIterable of them for client and bidi streaming), `ctx` the
 * call's context. A unary handler returns the response (message or init
 * object) or a promise of it, and may throw synchronously; a streaming one
 * returns an AsyncIterable of responses.
 */
export type MethodHandler = (request: unknown, ctx: HandlerContext) => unknown;

/**
 * Wraps the handler of `method`. Called once per method when a service is
 * registered, never per call: resolve per-method state here, and return
 * `next` itself to leave a method alone (it then costs nothing per call).
 * Throwing here refuses the registration, so the server does not start (the
 * way to make a missing declaration fail fast).
 *
 * The returned handler runs per call. It may refuse the call by throwing (a
 * ConnectError sets the status; anything else answers INTERNAL), act before
 * and after `next(request, ctx)`, and hand values to inner layers and the
 * handler through `ctx` (see `setContextValue` in grpc-adapter.ts). For a
 * streaming method `next` returns the response iterable, which it may wrap.
 */
export type Interceptor = (next: MethodHandler, method: DescMethod) => MethodHandler;

/**
 * `handler` of `method` wrapped in `interceptors`, the first outermost (the
 * order of Connect's `interceptors` option). Returns `handler` itself when no
 * interceptor wraps it.
 */
export function interceptMethod(method: DescMethod, handler: MethodHandler, interceptors: readonly Interceptor[]): MethodHandler {
  let wrapped = handler;
  for (let i = interceptors.length - 1; i >= 0; i--) wrapped = interceptors[i]!(wrapped, method);
  return wrapped;
}

/**
 * `impl` with each method it implements wrapped in `interceptors` (see
 * {@link interceptMethod}), for adapters that take a ServiceImpl, such as
 * connect-node's router. Methods absent from `impl` stay absent (they answer
 * unimplemented, unguarded, as before); a method no interceptor wraps is
 * passed on as it is. `impl` is a plain object, as Connect's router takes
 * (its own properties are copied). Throws what an interceptor throws at
 * registration.
 */
export function interceptService<S extends DescService>(
  service: S,
  impl: Partial<ServiceImpl<S>>,
  interceptors: readonly Interceptor[],
): Partial<ServiceImpl<S>> {
  const source = impl as Record<string, unknown>;
  const out: Record<string, unknown> = { ...source };
  for (const method of service.methods) {
    const fn = source[method.localName];
    if (typeof fn !== "function") continue;
    const bound = (fn as MethodHandler).bind(impl);
    const wrapped = interceptMethod(method, bound, interceptors);
    if (wrapped !== bound) out[method.localName] = wrapped;
  }
  return out as Partial<ServiceImpl<S>>;
}

/**
 * `interceptor` for the methods of `service` only; other services' methods
 * are left alone (decided at registration, so it costs nothing per call).
 */
export function forService(service: DescService, interceptor: Interceptor): Interceptor {
  return (next, method) => (method.parent.typeName === service.typeName ? interceptor(next, method) : next);
}

/** True when `value` is a promise or another thenable (handlers may answer synchronously). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
