/** The memory store's due-time heap against a sorted list, on seeded random pushes and pops. */
import { describe, expect, it } from "vitest";
import { DueHeap } from "../../src/store/due-heap.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

describe(`DueHeap (${seedLabel(TEST_SEED)})`, () => {
  it("pops exactly what is due, earliest first, ties in push order, as a sorted list would", () => {
    const rand = mulberry32(TEST_SEED);
    for (let round = 0; round < 100; round++) {
      const heap = new DueHeap<number>();
      const reference: [number, number][] = [];
      let id = 0;
      for (let step = 0; step < 300; step++) {
        if (rand() < 0.6) {
          const at = Math.floor(rand() * 50);
          heap.push(at, id);
          reference.push([at, id]);
          id += 1;
        } else {
          const now = Math.floor(rand() * 50);
          reference.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          const expected = reference.length > 0 && reference[0]![0] <= now ? reference.shift() : undefined;
          expect({ round, step, popped: heap.popDue(now) }).toEqual({ round, step, popped: expected });
        }
        expect(heap.size).toBe(reference.length);
      }
    }
  });

  it("pops nothing from an empty heap, or before the earliest item is due", () => {
    const heap = new DueHeap<string>();
    expect(heap.popDue(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    heap.push(10, "a");
    expect(heap.popDue(9)).toBeUndefined();
    expect(heap.popDue(10)).toEqual([10, "a"]);
    expect(heap.size).toBe(0);
  });
});
