/**
 * The glob matcher against a reference (the RegExp translation it replaced),
 * exhaustively on short inputs and on seeded random ones, and its step bound
 * on the pattern that made the RegExp backtrack for seconds.
 */
import { describe, expect, it } from "vitest";
import { globMatches, globMatchSteps } from "../../src/engine/index.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

/** The former implementation: correct, but exponential on `*a*a*a*b`. Only fed short inputs here. */
function reference(pattern: string, name: string): boolean {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`).test(name);
}

/** Every string of length 0..maxLength over `alphabet`. */
function allStrings(alphabet: string, maxLength: number): string[] {
  const out = [""];
  let layer = [""];
  for (let length = 1; length <= maxLength; length++) {
    layer = layer.flatMap((s) => [...alphabet].map((c) => s + c));
    out.push(...layer);
  }
  return out;
}

/** How `pattern` on `name` differs from the reference or breaks the step bound; undefined if it does neither. */
function problem(pattern: string, name: string): string | undefined {
  const { matches, steps } = globMatchSteps(pattern, name);
  const expected = reference(pattern, name);
  const bound = (pattern.length + 1) * (name.length + 1);
  if (matches !== expected || globMatches(pattern, name) !== expected) return `${pattern} on ${name}: ${matches}, expected ${expected}`;
  if (steps > bound) return `${pattern} on ${name}: ${steps} steps, more than ${bound}`;
  return undefined;
}

describe("globMatches against the RegExp it replaced", () => {
  it("agrees on every pattern of up to 4 characters over a b * ? . and every name of up to 6 over a b .", () => {
    const patterns = allStrings("ab*?.", 4);
    const names = allStrings("ab.", 6);
    const problems: string[] = [];
    for (const pattern of patterns) for (const name of names) problems.push(problem(pattern, name) ?? "");
    expect(problems.length).toBe(781 * 1093);
    expect(problems.filter((p) => p !== "")).toEqual([]);
  });

  it(`agrees on 20,000 random patterns and names of up to 12 and 40 characters (${seedLabel(TEST_SEED)})`, () => {
    const random = mulberry32(TEST_SEED);
    const pick = (alphabet: string, maxLength: number): string => {
      const length = Math.floor(random() * (maxLength + 1));
      let s = "";
      for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * alphabet.length)];
      return s;
    };
    const problems: string[] = [];
    // Few letters, so the literal parts of a pattern often do match somewhere.
    for (let i = 0; i < 20_000; i++) problems.push(problem(pick("ab*?.", 12), pick("ab.", 40)) ?? "");
    expect(problems.filter((p) => p !== "")).toEqual([]);
  });
});

describe("globMatchSteps", () => {
  const name = "a".repeat(200);

  it("takes at most (p+1)·(n+1) steps on *a*a*a*a*b against 200 a's (the RegExp took 18.5 s)", () => {
    const pattern = "*a*a*a*a*b";
    const { matches, steps } = globMatchSteps(pattern, name);
    expect(matches).toBe(false);
    expect(steps).toBeLessThanOrEqual((pattern.length + 1) * (name.length + 1));
  });

  it("still matches when the name ends in b, within the same bound", () => {
    const pattern = "*a*a*a*a*b";
    const { matches, steps } = globMatchSteps(pattern, `${name.slice(1)}b`);
    expect(matches).toBe(true);
    expect(steps).toBeLessThanOrEqual((pattern.length + 1) * (name.length + 1));
  });

  it("takes at most (p+1)·(n+1) steps on a 200-character pattern of *a pairs and ? against 200 a's", () => {
    const pattern = `${"*a".repeat(99)}?b`;
    const { matches, steps } = globMatchSteps(pattern, name);
    expect(matches).toBe(false);
    expect(steps).toBeLessThanOrEqual((pattern.length + 1) * (name.length + 1));
  });

  it("takes p+n steps or fewer on a literal or single-star pattern", () => {
    expect(globMatchSteps("agent.researcher", "agent.researcher")).toEqual({ matches: true, steps: 16 });
    expect(globMatchSteps("agent.*", "agent.team.researcher").steps).toBeLessThanOrEqual(7 + 21);
  });
});
