/**
 * mulberry32, a tiny seeded PRNG with uniform output in [0, 1): the one the
 * test suites (test/conformance/random.ts re-exports it) and the fuzz
 * generator (fuzz-gen.mjs, shared with bench/fuzz.mjs) draw from. Plain
 * JavaScript so bench scripts can import it without a build.
 */

/** A uniform [0, 1) source that repeats exactly for the same `seed`. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
