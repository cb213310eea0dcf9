/**
 * Deterministic randomness for tests: mulberry32, a tiny seeded PRNG with
 * uniform output in [0, 1). Tests that draw from it print the seed (in the
 * test name) so a failure can be replayed exactly.
 */

// One implementation for the suites and the bench's fuzz generator (plain JS there).
export { mulberry32 } from "../../bench/mulberry32.mjs";

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
