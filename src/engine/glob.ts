/**
 * Glob matching of pattern rules on circuit names, in linear space and at
 * most (p+1)·(n+1) steps for a pattern of p and a name of n characters.
 *
 * No RegExp: `^.*a.*a.*a.*b$` backtracks exponentially in V8's engine, and a
 * circuit name is chosen by any agent (docs/design.md §Semantics).
 */

/** Counts the steps of a match; {@link globMatchSteps} reads it, {@link globMatches} ignores it. */
interface StepCounter {
  steps: number;
}

const IGNORED: StepCounter = { steps: 0 };

/**
 * Whether glob `pattern` matches the whole of `name`: `*` any run of
 * characters (dots included, the empty run too), `?` exactly one character,
 * every other character itself (`.`, `[`, `\` are literal).
 */
export function globMatches(pattern: string, name: string): boolean {
  return match(pattern, name, IGNORED);
}

/**
 * {@link globMatches} with the number of steps it took (one per character
 * comparison or wildcard consumed). At most (p+1)·(n+1) for any pattern of p
 * and name of n characters; for tests and benchmarks of that bound.
 */
export function globMatchSteps(pattern: string, name: string): { matches: boolean; steps: number } {
  const counter: StepCounter = { steps: 0 };
  const matches = match(pattern, name, counter);
  return { matches, steps: counter.steps };
}

/**
 * The two-pointer wildcard match. On a mismatch it backtracks only to the
 * last `*` seen, letting it swallow one more character: an earlier `*` never
 * needs to take more, because whatever the later part of the pattern matched
 * after it can be matched after the last `*` too. So each `*` is resumed at
 * most n+1 times, each resume scanning at most to the next `*`.
 */
function match(pattern: string, name: string, counter: StepCounter): boolean {
  const p = pattern.length;
  const n = name.length;
  let pi = 0;
  let ni = 0;
  let star = -1; // index in pattern of the last `*` seen, -1 before any
  let resume = 0; // where in name the text after that `*` starts
  while (ni < n) {
    counter.steps++;
    const c = pi < p ? pattern.charCodeAt(pi) : -1;
    if (c === 42 /* * */) {
      star = pi++;
      resume = ni;
    } else if (c === 63 /* ? */ || c === name.charCodeAt(ni)) {
      pi++;
      ni++;
    } else if (star >= 0) {
      pi = star + 1;
      ni = ++resume;
    } else {
      return false;
    }
  }
  // The name is used up: what is left of the pattern must be stars only.
  while (pi < p && pattern.charCodeAt(pi) === 42) {
    counter.steps++;
    pi++;
  }
  return pi === p;
}
