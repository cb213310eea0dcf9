/** The per-key coalescer behind Report batching (src/store/redis/report-coalescer.ts), with a fake `send`. */
import { describe, expect, it } from "vitest";
import { createCoalescer, createGatherer } from "../../src/store/redis/report-coalescer.js";

/** A `send` whose calls the test answers by hand. */
function manualSend() {
  const calls: { key: string; items: readonly number[]; answer: (r: readonly string[]) => void; fail: (e: unknown) => void }[] = [];
  const send = (key: string, items: readonly number[]) =>
    new Promise<readonly string[]>((answer, fail) => void calls.push({ key, items, answer, fail }));
  return { calls, send };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("report coalescer", () => {
  it("sends a lone item at once, and what arrives while its call is out in one next call, in arrival order", async () => {
    const { calls, send } = manualSend();
    const c = createCoalescer(send, 64);
    const a = c.submit("x", 1);
    expect(calls.map((x) => [x.key, x.items])).toEqual([["x", [1]]]);
    const rest = [c.submit("x", 2), c.submit("x", 3), c.submit("y", 4), c.submit("x", 5)];
    // Another key does not wait for x's call.
    expect(calls.map((x) => [x.key, x.items])).toEqual([["x", [1]], ["y", [4]]]);
    calls[0]!.answer(["r1"]);
    await expect(a).resolves.toBe("r1");
    expect(calls.map((x) => [x.key, x.items])).toEqual([["x", [1]], ["y", [4]], ["x", [2, 3, 5]]]);
    calls[1]!.answer(["r4"]);
    calls[2]!.answer(["r2", "r3", "r5"]);
    await expect(Promise.all(rest)).resolves.toEqual(["r2", "r3", "r4", "r5"]);
    await flush();
    expect(c.busy).toBe(0);
  });

  it("sends at most maxBatch items per call, the rest in the next", async () => {
    const { calls, send } = manualSend();
    const c = createCoalescer(send, 3);
    const all = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => c.submit("x", i));
    for (let i = 0; i < 4; i++) {
      await flush();
      const call = calls[i]!;
      call.answer(call.items.map((n) => `r${n}`));
    }
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `r${n}`));
    expect(calls.map((x) => x.items)).toEqual([[1], [2, 3, 4], [5, 6, 7], [8]]);
  });

  it("fails every item of a failed call with its error, and goes on with the next call", async () => {
    const { calls, send } = manualSend();
    const c = createCoalescer(send, 64);
    const first = c.submit("x", 1);
    const batch = [c.submit("x", 2), c.submit("x", 3)];
    calls[0]!.answer(["r1"]);
    await first;
    const later = c.submit("x", 4);
    const boom = new Error("redis went away");
    calls[1]!.fail(boom);
    const settled = await Promise.allSettled(batch);
    expect(settled).toEqual([{ status: "rejected", reason: boom }, { status: "rejected", reason: boom }]);
    await flush();
    expect(calls[2]!.items).toEqual([4]);
    calls[2]!.answer(["r4"]);
    await expect(later).resolves.toBe("r4");
  });

  it("fails the items of a call that answers the wrong number of results", async () => {
    const { calls, send } = manualSend();
    const c = createCoalescer(send, 64);
    const first = c.submit("x", 1);
    calls[0]!.answer([]);
    await expect(first).rejects.toThrow("0 results for 1 items");
  });
});

/** A gatherer `send` whose calls the test answers by hand. */
function manualPages() {
  const calls: { items: readonly number[]; answer: (r: readonly string[]) => void; fail: (e: unknown) => void }[] = [];
  const send = (items: readonly number[]) => new Promise<readonly string[]>((answer, fail) => void calls.push({ items, answer, fail }));
  return { calls, send };
}

describe("report gatherer (the pages of several circuits' batches)", () => {
  // An item's weight is itself: a batch of that many reports.
  const weight = (n: number) => n;

  it("sends items at once while fewer than maxCalls calls are out; then what waits goes in one call, in arrival order", async () => {
    const { calls, send } = manualPages();
    const g = createGatherer(send, 2, 64, weight);
    const first = [g.submit(1), g.submit(2)];
    const waiting = [g.submit(3), g.submit(4), g.submit(5)];
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    expect(g.inFlight).toBe(2);
    calls[1]!.answer(["r2"]);
    await expect(first[1]).resolves.toBe("r2");
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3, 4, 5]]);
    calls[0]!.answer(["r1"]);
    calls[2]!.answer(["r3", "r4", "r5"]);
    await expect(Promise.all([...first, ...waiting])).resolves.toEqual(["r1", "r2", "r3", "r4", "r5"]);
    await flush();
    expect(g.inFlight).toBe(0);
  });

  it("puts at most maxWeight in one call, never splitting an item; a heavier one goes alone", async () => {
    const { calls, send } = manualPages();
    const g = createGatherer(send, 1, 10, weight);
    const all = [1, 4, 5, 2, 12, 3].map((n) => g.submit(n));
    for (let i = 0; i < 5; i++) {
      await flush();
      const call = calls[i]!;
      call.answer(call.items.map((n) => `r${n}`));
    }
    await expect(Promise.all(all)).resolves.toEqual(["r1", "r4", "r5", "r2", "r12", "r3"]);
    // 4 + 5 fit in 10, 2 more would not; 2 + 12 would not; 12 alone although over; then 3.
    expect(calls.map((c) => c.items)).toEqual([[1], [4, 5], [2], [12], [3]]);
  });

  it("fails every item of a failed call with its error, and goes on with what waits", async () => {
    const { calls, send } = manualPages();
    const g = createGatherer(send, 1, 64, weight);
    const first = g.submit(1);
    const page = [g.submit(2), g.submit(3)];
    const boom = new Error("redis went away");
    calls[0]!.fail(boom);
    await expect(first).rejects.toBe(boom);
    expect(calls[1]!.items).toEqual([2, 3]);
    calls[1]!.answer(["r2", "r3"]);
    await expect(Promise.all(page)).resolves.toEqual(["r2", "r3"]);
  });

  it("fails a call's items when it answers a different number of results", async () => {
    const { calls, send } = manualPages();
    const g = createGatherer(send, 1, 64, weight);
    const first = g.submit(1);
    const page = [g.submit(2), g.submit(3)];
    calls[0]!.answer(["r1"]);
    await first;
    calls[1]!.answer(["only one"]);
    const settled = await Promise.allSettled(page);
    expect(settled.map((s) => (s.status === "rejected" ? (s.reason as Error).message : "ok"))).toEqual([
      "report gatherer: 1 results for 2 items",
      "report gatherer: 1 results for 2 items",
    ]);
  });
});
