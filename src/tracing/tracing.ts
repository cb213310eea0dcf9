/**
 * What the composition root gets when tracing is on (sdk.ts builds it).
 * Types only: app.ts imports this file without loading OpenTelemetry.
 */
import type { Interceptor } from "../server/interceptor.js";
import type { CircuitStore } from "../store/store.js";

/** The store kinds a store span names (attribute breakerbox.store). */
export type StoreKind = "memory" | "redis";

export interface Tracing {
  /** A SERVER span per CircuitService call (unary and Watch), parented on the caller's W3C trace context. */
  readonly interceptor: Interceptor;
  /** `store` with a child span per call (store.acquire, store.report, …). */
  traceStore(store: CircuitStore, kind: StoreKind): CircuitStore;
  /** Exports the spans still queued, then stops. Idempotent. */
  shutdown(): Promise<void>;
}
