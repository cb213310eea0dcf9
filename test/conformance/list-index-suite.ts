/**
 * Conformance of the listing indexes: ListCircuits by state answers exactly
 * the circuits in that state after transitions (failures, due OPEN →
 * HALF_OPEN, Reset, ForceState and its release), after idle circuits expire
 * (Redis drops their keys without a script run: their index entries stay
 * behind until pruned and must not show), and after an expired circuit is
 * created again; countCircuits counts what the store holds (exactly, except
 * on Redis Cluster, where it is the replica's periodic count).
 */
import { afterEach, describe, expect, it } from "vitest";
import { BUILTIN_PRESETS, type State } from "../../src/engine/index.js";
import { SUITE_DEFAULTS, type Harness, type HarnessFactory } from "./circuit-store-suite.js";

const RUN = Date.now().toString(36);
let seq = 0;

const STATES: readonly State[] = ["CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "DISABLED"];

export function describeListIndexConformance(label: string, harness: HarnessFactory, { exactCount = true } = {}): void {
  describe(`list index conformance: ${label}`, () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it("lists by state exactly after transitions, idle expiry and re-creation, and counts the circuits", async () => {
      h = await harness({ layers: { defaults: SUITE_DEFAULTS, presets: BUILTIN_PRESETS, rules: [] } });
      const store = h.store;
      const prefix = `li.${RUN}.${++seq}.`;
      const n = (tag: string): string => prefix + tag;
      const fail = async (name: string): Promise<void> => {
        for (let i = 0; i < 3; i++) {
          const d = await store.acquire(name);
          await store.report(name, { permit: d.permit!, outcome: "FAILURE", durationMs: 1, retryAfterMs: 0 });
        }
      };
      /** Every state's listing, as "state:a,b" lines, paged two at a time to exercise the cursor. */
      const byState = async (): Promise<string[]> => {
        const lines: string[] = [];
        for (const state of STATES) {
          const got: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await store.list({ prefix, state, limit: 2, ...(after === undefined ? {} : { after }) });
            got.push(...page.circuits.map((c) => `${c.circuit.slice(prefix.length)}=${c.state}`));
            if (!page.more) break;
            after = page.circuits.at(-1)!.circuit;
          }
          if (got.length > 0) lines.push(`${state}:${got.join(",")}`);
        }
        return lines;
      };
      const count = async (expected: number): Promise<void> => {
        if (exactCount) expect(await store.countCircuits()).toBe(expected);
      };

      for (const tag of ["a", "b", "c", "d", "e", "f"]) await store.acquire(n(tag));
      await fail(n("b"));
      await fail(n("c"));
      await store.force(n("d"), "FORCED_OPEN", "ops");
      await store.force(n("e"), "DISABLED", "ops");
      expect(await byState()).toEqual(["CLOSED:a=CLOSED,f=CLOSED", "OPEN:b=OPEN,c=OPEN", "FORCED_OPEN:d=FORCED_OPEN", "DISABLED:e=DISABLED"]);
      await count(6);

      await h.advance(10_000); // b and c are due: a listing shows them HALF_OPEN
      expect(await byState()).toEqual(["CLOSED:a=CLOSED,f=CLOSED", "HALF_OPEN:b=HALF_OPEN,c=HALF_OPEN", "FORCED_OPEN:d=FORCED_OPEN", "DISABLED:e=DISABLED"]);

      await store.reset(n("c"), "ops");
      await store.force(n("d"), "CLOSED", "ops"); // released
      await store.force(n("b"), "FORCED_OPEN", "ops");
      expect(await byState()).toEqual(["CLOSED:a=CLOSED,c=CLOSED,d=CLOSED,f=CLOSED", "FORCED_OPEN:b=FORCED_OPEN", "DISABLED:e=DISABLED"]);

      // A day later a is used again; c, d and f, idle CLOSED, expire. b and e are pinned and never do.
      await h.advance(86_400_000);
      await store.acquire(n("a"));
      await h.expireIdle!();
      expect(await byState()).toEqual(["CLOSED:a=CLOSED", "FORCED_OPEN:b=FORCED_OPEN", "DISABLED:e=DISABLED"]);
      expect((await store.list({ prefix, limit: 10 })).circuits.map((c) => c.circuit)).toEqual([n("a"), n("b"), n("e")]);
      await count(3);

      // An expired circuit created again is listed in its new state.
      await fail(n("d"));
      expect(await byState()).toEqual(["CLOSED:a=CLOSED", "OPEN:d=OPEN", "FORCED_OPEN:b=FORCED_OPEN", "DISABLED:e=DISABLED"]);
      await count(4);
    });
  });
}
