/** ListPatternRules paging: page sizes, and pages that do not shift while rules are written and deleted. */
import { describe, expect, it } from "vitest";
import { encodeToken } from "../../src/service/opaque-token.js";
import { PageTokenError } from "../../src/service/errors.js";
import { pageOfRules } from "../../src/service/rule-pages.js";
import type { PatternRuleRecord } from "../../src/store/store.js";

const runtime = (pattern: string, precedence: number): PatternRuleRecord => ({ pattern, patch: {}, origin: "runtime", precedence });
const file = (pattern: string): PatternRuleRecord => ({ pattern, patch: {}, origin: "config_file", precedence: 0 });

describe("pageOfRules", () => {
  const rules = [runtime("a.*", 1), runtime("b.*", 2), runtime("c.*", 2), file("*"), file("x.*")];

  it("reads page_size 0 as 100 and more than 1000 as 1000", () => {
    const many = Array.from({ length: 1_200 }, (_, i) => runtime(`r${String(i).padStart(4, "0")}.*`, i));
    expect(pageOfRules(many, 0, "").rules).toHaveLength(100);
    expect(pageOfRules(many, 5_000, "").rules).toHaveLength(1_000);
    expect(pageOfRules(rules, 0, "")).toEqual({ rules, nextPageToken: "" });
  });

  it("continues after the last rule returned, whatever was written or deleted meanwhile", () => {
    const first = pageOfRules(rules, 2, "");
    expect(first.rules.map((r) => r.pattern)).toEqual(["a.*", "b.*"]);
    // A rule written ahead of the cursor and one deleted behind it shift nothing.
    const changed = [runtime("0.*", 0), runtime("b.*", 2), runtime("c.*", 2), runtime("d.*", 3), file("*"), file("x.*")];
    const second = pageOfRules(changed, 2, first.nextPageToken);
    expect(second.rules.map((r) => r.pattern)).toEqual(["c.*", "d.*"]);
    const third = pageOfRules(changed, 2, second.nextPageToken);
    expect(third).toEqual({ rules: [file("*"), file("x.*")], nextPageToken: "" });
  });

  it.each([
    ["not base64url", "%%%", "malformed"],
    ["another RPC's token", encodeToken("circuits", [], "a"), "mismatch"],
    ["a position that is not a rule's", encodeToken("rules", [], '{"a":1}'), "malformed"],
  ])("refuses %s on page_token", (_what, token, problem) => {
    expect(() => pageOfRules(rules, 2, token)).toThrow(PageTokenError);
    expect(() => pageOfRules(rules, 2, token)).toThrow(expect.objectContaining({ field: "page_token", problem }));
  });

  // Page tokens are not signed; found untested by a mutation run (docs/testing.md).
  it("refuses a token whose position is not a [number, number, string] key", () => {
    for (const bad of [[0, 1], [0, 1, "a.*", 4], ["0", 1, "a.*"], [0, "1", "a.*"], [0, 1, 2], { 0: 0, 1: 1, 2: "a.*", length: 3 }, "a.*"]) {
      const token = encodeToken("rules", [], JSON.stringify(bad));
      expect(() => pageOfRules(rules, 2, token), JSON.stringify(bad)).toThrow(PageTokenError);
    }
  });

  it("pages one rule at a time through runtime and file rules, each exactly once", () => {
    const seen: string[] = [];
    let token = "";
    do {
      const page = pageOfRules(rules, 1, token);
      seen.push(...page.rules.map((r) => `${r.origin}:${r.pattern}`));
      token = page.nextPageToken;
    } while (token !== "" && seen.length <= rules.length);
    expect(seen).toEqual(["runtime:a.*", "runtime:b.*", "runtime:c.*", "config_file:*", "config_file:x.*"]);
  });

  it("continues from the first rule when every rule now sorts after the cursor", () => {
    const first = pageOfRules(rules, 1, ""); // a.*
    const later = [runtime("b.*", 2), runtime("c.*", 2)]; // a.* deleted meanwhile
    expect(pageOfRules(later, 1, first.nextPageToken).rules.map((r) => r.pattern)).toEqual(["b.*"]);
  });
});
