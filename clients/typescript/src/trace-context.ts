/**
 * OpenTelemetry context propagation, when the application uses it: each
 * call's metadata gets the active context's `traceparent` (and `tracestate`)
 * through the globally registered propagator, so the server's spans join
 * the agent's trace.
 *
 * @opentelemetry/api is an optional peer dependency, imported dynamically on
 * the first transport: without it (or with no propagator or no active span
 * registered) nothing is added and nothing else changes.
 */
import type * as grpc from "@grpc/grpc-js";

/** Adds the active context's propagation entries to `metadata`. */
export type TraceInjector = (metadata: grpc.Metadata) => void;

/** undefined: not loaded yet; null: @opentelemetry/api is not installed. */
let injector: TraceInjector | null | undefined;
let loading: Promise<void> | undefined;

/** Loads @opentelemetry/api once; resolves when {@link traceInjector} is final. Never rejects. */
export function loadTraceContext(): Promise<void> {
  loading ??= import("@opentelemetry/api").then(
    (api) => {
      const setter = { set: (carrier: grpc.Metadata, key: string, value: string) => carrier.set(key, value) };
      injector = (metadata) => api.propagation.inject(api.context.active(), metadata, setter);
    },
    () => {
      injector = null;
    },
  );
  return loading;
}

/** The injector once loaded (null without @opentelemetry/api), undefined while loading. */
export function traceInjector(): TraceInjector | null | undefined {
  return injector;
}
