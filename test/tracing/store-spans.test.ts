/**
 * The store spans' attributes for what the e2e test (test/e2e/tracing.test.ts)
 * does not reach cheaply: denied Acquires, refused and failed store calls.
 * An in-memory exporter collects the spans.
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { StoreUnavailableError, type CircuitStore } from "../../src/store/store.js";
import { permitKindOf, traceStore } from "../../src/tracing/store-spans.js";
import { manualClock } from "../support/test-server.js";

function setup(store: CircuitStore, kind: "memory" | "redis" = "memory") {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  // The simple processor hands spans to the exporter asynchronously: flush before reading.
  const spans = async () => {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  };
  return { traced: traceStore(store, provider.getTracer("test"), kind), spans };
}

function memoryStore(): CircuitStore {
  return createMemoryStore({
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1, openDurationMs: 10_000 }, presets: { ...BUILTIN_PRESETS }, rules: [] },
    clock: manualClock().now,
    random: () => 0.5,
    tickIntervalMs: 0,
  });
}

describe("store spans", () => {
  it("passes the store's status change feed through, so status rounds with tracing on still read only what changed", async () => {
    const store = memoryStore();
    const { traced } = setup(store);
    expect(traced.statusChanges).toBeDefined();
    await traced.acquire("fed");
    const first = await traced.statusChanges!(undefined);
    expect((await traced.statusChanges!(first.cursor)).names).toEqual(["fed"]);
  });

  it("a denied Acquire: decision denied with its reason, no permit kind", async () => {
    const { traced, spans } = setup(memoryStore());
    await traced.force("down", "FORCED_OPEN", "test");
    const d = await traced.acquire("down");
    expect(d.allowed).toBe(false);
    const all = await spans();
    const span = all.find((s) => s.name === "store.acquire")!;
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.attributes).toEqual({
      "breakerbox.store": "memory",
      "breakerbox.circuit": "down",
      "breakerbox.decision": "denied",
      "breakerbox.decision.reason": "FORCED_OPEN",
      "breakerbox.state": "FORCED_OPEN",
    });
    expect(all.map((s) => s.name)).toEqual(["store.force", "store.acquire"]);
  });

  it("a refused Report (bad permit) is not an ERROR of the store", async () => {
    const { traced, spans } = setup(memoryStore());
    await expect(traced.report("c", { permit: "nope", outcome: "SUCCESS", durationMs: 1, retryAfterMs: 0 })).rejects.toThrow();
    const [span] = await spans();
    expect(span!.attributes).toMatchObject({ "breakerbox.outcome": "SUCCESS", "breakerbox.store.result": "refused" });
    expect(span!.attributes["breakerbox.permit.kind"]).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("an unavailable store: ERROR status, result unavailable; a Redis span is a CLIENT round trip", async () => {
    const down = { acquire: () => Promise.reject(new StoreUnavailableError("redis is down")) } as unknown as CircuitStore;
    const { traced, spans } = setup(down, "redis");
    await expect(traced.acquire("c")).rejects.toThrow("redis is down");
    const [span] = await spans();
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.attributes).toMatchObject({ "breakerbox.store": "redis", "db.system.name": "redis", "breakerbox.store.result": "unavailable" });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: "redis is down" });
  });

  it("permitKindOf reads signed and bare permits, and nothing else", () => {
    expect(permitKindOf("1a.0.p.lz.0123456789.0")).toBe("probe");
    expect(permitKindOf("1a.0.s.lz.0123456789.0.AAAAAAAAAAAAAAAAAAAAAA")).toBe("shadow");
    expect(permitKindOf("not a permit")).toBeUndefined();
  });
});
