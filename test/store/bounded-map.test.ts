/**
 * BoundedMap (src/store/redis/bounded-map.ts), the Redis replica's
 * per-circuit caches: past `max` the least recently set entry is dropped,
 * through any mix of sets, re-sets, deletes, sweeps and clears (checked
 * against a plain list model).
 */
import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../src/store/redis/bounded-map.js";
import { mulberry32 } from "../conformance/random.js";

describe("BoundedMap", () => {
  it("drops the least recently set entry past its bound; a re-set makes a key the newest", () => {
    const m = new BoundedMap<string, number>(3);
    for (const k of ["a", "b", "c"]) m.set(k, 1);
    m.set("a", 2); // newest now
    m.set("d", 1); // drops b
    expect([...m.keys()]).toEqual(["c", "a", "d"]);
    m.delete("c");
    m.set("e", 1);
    m.set("f", 1); // drops a
    expect([...m.keys()]).toEqual(["d", "e", "f"]);
    m.clear();
    for (const k of ["x", "y", "z", "w"]) m.set(k, 1);
    expect([...m.keys()]).toEqual(["y", "z", "w"]);
  });

  it("keeps exactly the newest `max` set keys through random sets, deletes, sweeps and clears", () => {
    const rand = mulberry32(7);
    const max = 50;
    const m = new BoundedMap<number, number>(max);
    let model: number[] = []; // oldest first
    for (let step = 0; step < 20_000; step++) {
      const r = rand();
      const key = Math.floor(rand() * 120);
      if (r < 0.75) {
        m.set(key, step);
        model = model.filter((k) => k !== key);
        model.push(key);
        if (model.length > max) model.shift();
      } else if (r < 0.95) {
        m.delete(key);
        model = model.filter((k) => k !== key);
      } else if (r < 0.999) {
        m.sweep(0); // nothing was set before time 0: drops nothing
      } else {
        m.clear();
        model = [];
      }
      if (step % 97 === 0) expect([...m.keys()]).toEqual(model);
    }
    expect([...m.keys()]).toEqual(model);
  });
});
