/**
 * Memory-store behaviours a mutation run (docs/testing.md) found untested:
 * resume tokens with anything around them, from another run or from the
 * future; a ForceState that changes nothing; deleting a file rule when the
 * file has several; runtime rules of equal precedence.
 */
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { createMemoryEventLog } from "../../src/store/memory-event-log.js";
import { createMemoryStore, type MemoryStore } from "../../src/store/memory.js";
import { PatternRuleFromFileError, ResumeTokenError } from "../../src/store/store-errors.js";
import { mulberry32, TEST_SEED } from "../conformance/random.js";

const T0 = 1_700_000_000_000;
let stores: MemoryStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  stores = [];
});

function makeStore(rules: { pattern: string; patch: { failureThreshold: number } }[] = []): MemoryStore {
  const store = createMemoryStore({
    layers: { defaults: BUILTIN_DEFAULTS, presets: BUILTIN_PRESETS, rules },
    clock: () => T0,
    random: mulberry32(TEST_SEED),
    tickIntervalMs: 0,
  });
  stores.push(store);
  return store;
}

function problemOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof ResumeTokenError) return e.problem;
    throw e;
  }
  return undefined;
}

describe("memory event log positions", () => {
  it("takes its own token back, and refuses one with anything before or after it as malformed", () => {
    const log = createMemoryEventLog(10);
    const token = log.currentToken();
    expect(log.after(token)).toEqual([]);
    expect(problemOf(() => log.after(`x${token}`))).toBe("malformed");
    expect(problemOf(() => log.after(`${token}0x`))).toBe("malformed");
  });

  it("refuses a token of another run, and one past its newest entry, as expired", () => {
    const log = createMemoryEventLog(10);
    const other = createMemoryEventLog(10);
    expect(problemOf(() => log.after(other.currentToken()))).toBe("expired");
    const [epoch, seq] = log.currentToken().split("-");
    expect(problemOf(() => log.after(`${epoch}-${Number(seq) + 1}`))).toBe("expired");
  });
});

describe("memory store admin edges", () => {
  it("records nothing for a ForceState to the state the circuit is already pinned to", async () => {
    const store = makeStore();
    await store.acquire("edge.force");
    await store.force("edge.force", "FORCED_OPEN", "ann");
    await store.force("edge.force", "FORCED_OPEN", "ann");
    const page = await store.history("edge.force", 10);
    expect(page?.entries.map((e) => (e.kind === "transition" ? `${e.event.from}->${e.event.to}` : e.kind))).toEqual(["CLOSED->FORCED_OPEN"]);
  });

  it("refuses to delete one of several file rules as PATTERN_RULE_FROM_FILE", async () => {
    const store = makeStore([
      { pattern: "file.a.*", patch: { failureThreshold: 2 } },
      { pattern: "file.b.*", patch: { failureThreshold: 3 } },
    ]);
    await expect(store.deletePatternRule("file.b.*", "ann")).rejects.toBeInstanceOf(PatternRuleFromFileError);
  });

  it("consults runtime rules of equal precedence by pattern, in code-unit order", async () => {
    const store = makeStore();
    await store.acquire("tie.x");
    // Written in the other order: the order of writing must not decide.
    await store.configurePattern("tie.?", { patch: { failureThreshold: 4 }, replace: false, precedence: 1 }, "ann");
    await store.configurePattern("tie.*", { patch: { failureThreshold: 5 }, replace: false, precedence: 1 }, "ann");
    // "tie.*" < "tie.?" in code units ("*" is 0x2a, "?" 0x3f).
    expect((await store.get("tie.x"))?.config.failureThreshold).toBe(5);
  });
});
