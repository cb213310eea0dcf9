/** The grid's worst-first order and the model's per-state counts, without a browser. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Model, type CircuitEntry } from "../../dashboard/model.js";
import { WorstFirst, worstFirst } from "../../dashboard/order.js";
import { CircuitEventSchema, CircuitStatsSchema, CircuitStatusSchema, State } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";

function entry(name: string, state: CircuitEntry["state"], failureRate = 0): CircuitEntry {
  return { name, state, generation: 0n, samples: [], stats: create(CircuitStatsSchema, { failureRate }) };
}

const status = (circuit: string, state: State, generation: bigint, failureRate = 0) =>
  create(CircuitStatusSchema, { circuit, state, generation, stats: { failureRate } });

describe("worstFirst", () => {
  it("puts OPEN and FORCED_OPEN first, then HALF_OPEN, then the rest; each by failure rate, highest first, then by name", () => {
    const entries = [
      entry("a.closed", "CLOSED"),
      entry("b.disabled", "DISABLED"),
      entry("c.closed-40", "CLOSED", 0.4),
      entry("d.half", "HALF_OPEN", 0.2),
      entry("e.forced", "FORCED_OPEN"),
      entry("f.open-60", "OPEN", 0.6),
      entry("g.open-100", "OPEN", 1),
      entry("h.half-90", "HALF_OPEN", 0.9),
      entry("i.disabled-90", "DISABLED", 0.9),
      entry("j.unknown", "UNKNOWN"),
      entry("a.open-60", "OPEN", 0.6),
    ];
    expect(entries.toSorted(worstFirst).map((e) => e.name)).toEqual([
      "g.open-100",
      "a.open-60",
      "f.open-60",
      "e.forced",
      "h.half-90",
      "d.half",
      "i.disabled-90",
      "c.closed-40",
      "a.closed",
      "b.disabled",
      "j.unknown",
    ]);
  });

  it("ranks a CLOSED circuit failing every call below a HALF_OPEN one with none failed", () => {
    expect(worstFirst(entry("a", "CLOSED", 1), entry("z", "HALF_OPEN", 0))).toBeGreaterThan(0);
    expect(worstFirst(entry("z", "HALF_OPEN", 1), entry("a", "OPEN", 0))).toBeGreaterThan(0);
  });
});

describe("WorstFirst", () => {
  it("re-sorts only when a circuit's place may have changed, and keeps new circuits", () => {
    const a = entry("a", "CLOSED");
    const b = entry("b", "CLOSED");
    const order = new WorstFirst();
    order.reset([b, a]);
    expect(order.sorted().map((e) => e.name)).toEqual(["a", "b"]);
    const v = order.version;
    order.touch(a); // nothing that orders it changed
    expect(order.sorted().map((e) => e.name)).toEqual(["a", "b"]);
    expect(order.version).toBe(v);
    b.state = "OPEN";
    order.touch(b);
    order.touch(entry("c", "HALF_OPEN"));
    expect(order.sorted().map((e) => e.name)).toEqual(["b", "c", "a"]);
    expect(order.version).toBe(v + 1);
    a.stats = create(CircuitStatsSchema, { failureRate: 0.5 });
    order.touch(a);
    expect(order.sorted().map((e) => e.name)).toEqual(["b", "c", "a"]);
    expect(order.size).toBe(3);
  });
});

describe("Model counts", () => {
  it("counts every circuit per state through snapshots, status messages and events", () => {
    const model = new Model();
    const changes: unknown[] = [];
    model.onChange((c) => changes.push(c));
    model.replace([status("a", State.CLOSED, 1n), status("b", State.CLOSED, 1n), status("c", State.OPEN, 1n)]);
    expect(Object.fromEntries(model.counts)).toEqual({ CLOSED: 2, OPEN: 1 });

    model.status(status("a", State.CLOSED, 1n, 0.5)); // same state
    expect(changes.at(-1)).toEqual({ kind: "circuit", name: "a", stateChanged: false });
    model.event(create(CircuitEventSchema, { circuit: "b", fromState: State.CLOSED, toState: State.OPEN, generation: 2n }));
    expect(changes.at(-1)).toMatchObject({ kind: "circuit", name: "b", stateChanged: true });
    expect(Object.fromEntries(model.counts)).toEqual({ CLOSED: 1, OPEN: 2 });

    model.status(status("d", State.HALF_OPEN, 1n)); // a new circuit
    expect(changes.at(-1)).toEqual({ kind: "circuit", name: "d", stateChanged: true });
    model.status(status("b", State.CLOSED, 1n)); // older than the event: dropped
    expect(Object.fromEntries(model.counts)).toEqual({ CLOSED: 1, OPEN: 2, HALF_OPEN: 1, UNKNOWN: 0 });

    model.replace([status("a", State.FORCED_OPEN, 3n)]);
    expect(Object.fromEntries(model.counts)).toEqual({ FORCED_OPEN: 1 });
  });
});
