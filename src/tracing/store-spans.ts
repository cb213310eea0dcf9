/**
 * A span per store call, child of the RPC's span (rpc-spans.ts runs the
 * handler in its context): "store.acquire", "store.report", … with the
 * circuit, the decision or the outcome, and the permit's kind. On the Redis
 * store one call is one round trip (one script), so its span, kind CLIENT,
 * is that round trip; on the memory store it is INTERNAL.
 *
 * Wrapped around the store only when tracing is on (see app.ts), like
 * instrumentStore (src/metrics/instrument.ts), whose seam this shares.
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Attributes, Span, Tracer } from "@opentelemetry/api";
import { decodePermit, splitPermit, type PermitKind } from "../engine/permit.js";
import { STORE_OPERATIONS, storeResultOf } from "../metrics/instrument.js";
import { type AcquireDecision, type CircuitStore, type ReportAck, passedThrough } from "../store/store.js";
import type { StoreKind } from "./tracing.js";

/** The kind of a permit token (signed "body.mac" or a bare body), or undefined when it is not one. */
export function permitKindOf(token: string): PermitKind | undefined {
  return (decodePermit(token) ?? decodePermit(splitPermit(token)?.body ?? ""))?.kind;
}

/** The attributes of an Acquire's decision. */
function decisionAttributes(d: AcquireDecision): Attributes {
  const kind = d.permit === undefined ? undefined : permitKindOf(d.permit);
  return {
    "breakerbox.decision": d.allowed ? "allowed" : "denied",
    "breakerbox.state": d.state,
    ...(d.reason === undefined ? {} : { "breakerbox.decision.reason": d.reason }),
    ...(kind === undefined ? {} : { "breakerbox.permit.kind": kind }),
    ...(d.shadowDenied ? { "breakerbox.decision.shadow_denied": true } : {}),
  };
}

/** The attributes of a Report's answer. */
function ackAttributes(ack: ReportAck): Attributes {
  return { "breakerbox.report.disposition": ack.disposition, "breakerbox.state": ack.state };
}

/** `store` with a span per data call. Watch, the status change feed, listeners, health and close pass straight through (passedThrough). */
export function traceStore(store: CircuitStore, tracer: Tracer, kind: StoreKind): CircuitStore {
  const spanKind = kind === "redis" ? SpanKind.CLIENT : SpanKind.INTERNAL;
  const base: Attributes = { "breakerbox.store": kind, ...(kind === "redis" ? { "db.system.name": "redis" } : {}) };

  /**
   * Runs `call` under a span named after `operation`; `attributes` (built
   * only for a span that records: a sampler may drop most) and `onOk` add
   * the request's and the answer's attributes.
   */
  function spanned<T>(operation: string, attributes: () => Attributes, call: () => Promise<T>, onOk?: (span: Span, value: T) => void): Promise<T> {
    const span = tracer.startSpan(`store.${operation}`, { kind: spanKind, attributes: base });
    if (span.isRecording()) span.setAttributes(attributes());
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (err) {
      failed(span, err);
      throw err;
    }
    promise.then(
      (value) => {
        if (onOk !== undefined && span.isRecording()) onOk(span, value);
        span.end();
      },
      (err: unknown) => failed(span, err),
    );
    return promise;
  }

  const circuitOnly = (circuit: string) => (): Attributes => ({ "breakerbox.circuit": circuit });
  const none = (): Attributes => ({});
  const op = STORE_OPERATIONS;
  return {
    acquire: (circuit) => spanned(op.acquire, circuitOnly(circuit), () => store.acquire(circuit), (span, d) => span.setAttributes(decisionAttributes(d))),
    report(circuit, command) {
      const attributes = (): Attributes => {
        const permitKind = permitKindOf(command.permit);
        return {
          "breakerbox.circuit": circuit,
          "breakerbox.outcome": command.outcome,
          ...(permitKind === undefined ? {} : { "breakerbox.permit.kind": permitKind }),
        };
      };
      return spanned(op.report, attributes, () => store.report(circuit, command), (span, ack) => span.setAttributes(ackAttributes(ack)));
    },
    get: (circuit) => spanned(op.get, circuitOnly(circuit), () => store.get(circuit)),
    list: (query) => spanned(op.list, none, () => store.list(query)),
    history: (circuit, limit, before) => spanned(op.history, circuitOnly(circuit), () => store.history(circuit, limit, before)),
    reset: (circuit, actor) => spanned(op.reset, circuitOnly(circuit), () => store.reset(circuit, actor)),
    force: (circuit, target, actor) => spanned(op.force, circuitOnly(circuit), () => store.force(circuit, target, actor)),
    configureCircuit: (circuit, command, actor) =>
      spanned(op.configureCircuit, circuitOnly(circuit), () => store.configureCircuit(circuit, command, actor)),
    configurePattern: (pattern, command, actor) =>
      spanned(op.configurePattern, () => ({ "breakerbox.pattern": pattern }), () => store.configurePattern(pattern, command, actor)),
    listPatternRules: () => spanned(op.listPatternRules, none, () => store.listPatternRules()),
    deletePatternRule: (pattern, actor) =>
      spanned(op.deletePatternRule, () => ({ "breakerbox.pattern": pattern }), () => store.deletePatternRule(pattern, actor)),
    ...passedThrough(store),
  };
}

/** Ends `span` as failed: the store's result class (refused, unavailable, error); ERROR status unless the caller was refused. */
function failed(span: Span, err: unknown): void {
  const result = storeResultOf(err);
  span.setAttribute("breakerbox.store.result", result);
  span.setAttribute("error.type", err instanceof Error ? err.name : "error");
  if (result !== "refused") span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}
