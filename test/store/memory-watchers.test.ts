/**
 * The memory store's watcher index (src/store/memory-watchers.ts): an entry
 * reaches exactly the watchers whose filter matches its circuit, once each,
 * whether they watch names, a prefix, both, or everything; a closed watcher
 * gets nothing more. And compareStreamIds, which the Redis feed runs once
 * per watcher for every entry, orders ids numerically.
 */
import { describe, expect, it } from "vitest";
import { createMemoryWatchers } from "../../src/store/memory-watchers.js";
import type { MemoryLogEntry } from "../../src/store/memory-event-log.js";
import type { WatchFilter, WatchItem } from "../../src/store/store.js";
import { compareStreamIds } from "../../src/store/redis/event-feed.js";

function removal(circuit: string, n: number): MemoryLogEntry {
  return { kind: "circuit_removed", position: `p-${n}`, circuit, cause: "idle_evicted", at: n };
}

describe("memory watchers", () => {
  it("hands each entry to exactly the matching watchers, once each", () => {
    const watchers = createMemoryWatchers();
    const got = new Map<string, string[]>();
    const filters: Record<string, WatchFilter> = {
      all: { circuits: [], prefix: "" },
      llm: { circuits: [], prefix: "llm." },
      llm2: { circuits: [], prefix: "llm." },
      names: { circuits: ["db.a", "llm.x", "db.a"], prefix: "" },
      mixed: { circuits: ["db.b", "llm.y"], prefix: "llm." },
      nothing: { circuits: ["other"], prefix: "" },
    };
    const subs = Object.entries(filters).map(([name, filter]) => {
      got.set(name, []);
      return watchers.open(filter, (item: WatchItem) => got.get(name)!.push((item as { circuit: string }).circuit), () => "");
    });
    ["llm.x", "db.a", "db.b", "llm.y", "zzz"].forEach((c, i) => watchers.deliver(removal(c, i)));
    expect(Object.fromEntries(got)).toEqual({
      all: ["llm.x", "db.a", "db.b", "llm.y", "zzz"],
      llm: ["llm.x", "llm.y"],
      llm2: ["llm.x", "llm.y"],
      names: ["llm.x", "db.a"],
      mixed: ["llm.x", "db.b", "llm.y"],
      nothing: [],
    });
    // Closed watchers (of each kind) get nothing more; the others still do.
    subs[1]!.close();
    subs[3]!.close();
    subs[4]!.close();
    subs[3]!.close(); // idempotent
    watchers.deliver(removal("llm.x", 9));
    watchers.deliver(removal("db.a", 10));
    expect(got.get("llm")).toEqual(["llm.x", "llm.y"]);
    expect(got.get("names")).toEqual(["llm.x", "db.a"]);
    expect(got.get("mixed")).toEqual(["llm.x", "db.b", "llm.y"]);
    expect(got.get("llm2")).toEqual(["llm.x", "llm.y", "llm.x"]);
    expect(got.get("all")).toEqual(["llm.x", "db.a", "db.b", "llm.y", "zzz", "llm.x", "db.a"]);
  });
});

describe("compareStreamIds", () => {
  it("orders ids by milliseconds, then sequence, as numbers", () => {
    const ids = ["10-0", "9-5", "9-10", "0-0", "1700000000000-1", "999999999999-99", "9-9", "10-1"];
    expect([...ids].sort(compareStreamIds)).toEqual(["0-0", "9-5", "9-9", "9-10", "10-0", "10-1", "999999999999-99", "1700000000000-1"]);
    expect(compareStreamIds("5-5", "5-5")).toBe(0);
    expect(compareStreamIds("007-1", "7-1")).toBe(0);
    expect(Math.sign(compareStreamIds("08-0", "10-0"))).toBe(-1);
    expect(Math.sign(compareStreamIds("1-02", "1-10"))).toBe(-1);
  });
});
