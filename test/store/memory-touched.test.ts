/** The memory store's record of recently changed circuits (memory-touched.ts). */
import { describe, expect, it } from "vitest";
import { TouchedNames } from "../../src/store/memory-touched.js";

const noWindow = (): number => 0;

describe("TouchedNames", () => {
  it("answers the names changed after a cursor, once each, changes in the same millisecond included", () => {
    const t = new TouchedNames(100, 60_000);
    t.touch("a", 1000);
    const cursor = t.cursor;
    t.touch("b", 1000);
    t.touch("c", 1000);
    t.touch("b", 1000);
    expect(t.since(cursor, 1000, 1000, noWindow)).toEqual({ cursor: 4, names: ["c", "b"], overflowed: false });
    expect(t.since(4, 1000, 1000, noWindow)).toEqual({ cursor: 4, names: [], overflowed: false });
  });

  it("adds the names whose window may have slid since the cursor was taken", () => {
    const t = new TouchedNames(100, 60_000);
    t.touch("old", 1000);
    t.touch("recent", 9500);
    const cursor = t.cursor;
    // Taken at 10,000; with a 1 s window only "recent" (changed at 9,500) may still slide.
    expect(t.since(cursor, 10_000, 11_000, () => 1000).names).toEqual(["recent"]);
    expect(t.since(cursor, 10_000, 11_000, () => 10_000).names).toEqual(["old", "recent"]);
  });

  it("cannot answer from before what it forgot: overflow and age both say 'read everything'", () => {
    const t = new TouchedNames(4, 60_000);
    const start = t.cursor;
    for (const name of ["a", "b", "c", "d", "e"]) t.touch(name, 1000);
    expect(t.overflows).toBe(1);
    expect(t.size).toBe(2);
    expect(t.since(start, 1000, 1000, noWindow)).toEqual({ cursor: 5, names: undefined, overflowed: true });
    expect(t.since(4, 1000, 1000, noWindow)).toEqual({ cursor: 5, names: ["e"], overflowed: false });

    const aged = new TouchedNames(100, 60_000);
    aged.touch("x", 0);
    const mid = aged.cursor;
    aged.touch("y", 50_000);
    expect(aged.since(0, 0, 70_000, noWindow)).toEqual({ cursor: 2, names: undefined, overflowed: false });
    expect(aged.since(mid, 50_000, 70_000, noWindow)).toEqual({ cursor: 2, names: ["y"], overflowed: false });
  });
});
