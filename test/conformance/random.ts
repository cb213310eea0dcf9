/**
 * Deterministic randomness for tests: mulberry32, a tiny seeded PRNG with
 * uniform output in [0, 1). Tests that draw from it print the seed (in the
 * test name) so a failure can be replayed exactly.
 */

/** A uniform [0, 1) source that repeats exactly for the same `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed the suites use unless TEST_SEED is set (decimal or 0x hex). */
export const TEST_SEED: number = (() => {
  const raw = process.env["TEST_SEED"];
  if (raw === undefined || raw === "") return 0x5eed_b0b;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`TEST_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return n >>> 0;
})();

/** The seed as tests print it. */
export function seedLabel(seed: number): string {
  return `seed 0x${(seed >>> 0).toString(16)}`;
}
