/**
 * SortedNames and SortedKeyMap (the memory store's listing index) against a
 * plain sorted array: seeded random adds and deletes across many block
 * splits, then every listing query compared with the brute-force answer.
 */
import { describe, expect, it } from "vitest";
import { SortedKeyMap, SortedNames } from "../../src/store/sorted-names.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

describe(`SortedNames (${seedLabel(TEST_SEED)})`, () => {
  it("iterates exactly the names after a cursor under a prefix, in order, through adds, deletes and block splits", () => {
    const rand = mulberry32(TEST_SEED);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const randomName = (): string => Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick("abc.-9Z")).join("");
    const names = new SortedNames();
    const truth = new Set<string>();
    for (let step = 0; step < 6000; step++) {
      const n = randomName();
      if (rand() < 0.7) {
        expect(names.add(n)).toBe(!truth.has(n));
        truth.add(n);
      } else {
        expect(names.delete(n)).toBe(truth.has(n));
        truth.delete(n);
      }
    }
    // Enough distinct names to split blocks of 1024.
    for (let i = 0; i < 5000; i++) {
      names.add(`bulk.${i}`);
      truth.add(`bulk.${i}`);
    }
    for (let i = 0; i < 5000; i += 3) {
      names.delete(`bulk.${i}`);
      truth.delete(`bulk.${i}`);
    }
    const sorted = [...truth].sort();
    expect(names.size).toBe(sorted.length);
    expect([...names.from("", undefined)]).toEqual(sorted);
    for (let q = 0; q < 300; q++) {
      const prefix = rand() < 0.5 ? "" : randomName().slice(0, 2);
      const after = rand() < 0.3 ? undefined : randomName();
      const expected = sorted.filter((n) => n.startsWith(prefix) && (after === undefined || n > after));
      expect([...names.from(prefix, after)], `prefix ${JSON.stringify(prefix)} after ${JSON.stringify(after)}`).toEqual(expected);
      const probe = randomName();
      expect(names.has(probe)).toBe(truth.has(probe));
    }
  });

  it("SortedKeyMap keeps its keys and its linked subsets in step with the map", () => {
    const active = new SortedNames();
    const map = new SortedKeyMap<number>([active]);
    for (const [k, v] of [["b", 2], ["a", 1], ["c", 3]] as const) map.set(k, v);
    active.add("b");
    map.set("a", 10); // an update adds no key
    expect([...map.sortedKeys.from("", undefined)]).toEqual(["a", "b", "c"]);
    expect(map.delete("b")).toBe(true);
    expect([...map.sortedKeys.from("", undefined)]).toEqual(["a", "c"]);
    expect(active.size).toBe(0); // deleting from the map deleted it from the subset
    map.clear();
    expect(map.sortedKeys.size).toBe(0);
  });
});
