import { describe, expect, it } from "vitest";
import { CIRCUIT_NAME_RE, circuitNameProblem, patternProblem } from "../../src/engine/index.js";

const RULE = "must match ^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$ (start with a letter or digit; then letters, digits and . _ : / @ -)";

describe("circuitNameProblem", () => {
  it.each([
    "a",
    "7",
    "agent.researcher",
    "llm.openai.gpt",
    "A-b_c:d/e@f.g",
    "tenant@acme/agent:v2",
    "x".repeat(200),
  ])("accepts %j", (name) => {
    expect(circuitNameProblem(name)).toBeUndefined();
  });

  it.each<[string, string, string]>([
    ["empty", "", "is required"],
    ["starting with a dash", "-bad", `"-bad" ${RULE}`],
    ["starting with a dot", ".agent", `".agent" ${RULE}`],
    ["with a space", "agent researcher", `"agent researcher" ${RULE}`],
    ["with a non-ASCII letter", "agent.é", `"agent.é" ${RULE}`],
    ["with a wildcard", "agent.*", `"agent.*" ${RULE}`],
    ["with a newline at the end", "agent\n", `"agent\\n" ${RULE}`],
    ["201 characters", "x".repeat(201), "is 201 characters long; at most 200 are allowed"],
    ["201 characters, invalid too", "-".repeat(201), "is 201 characters long; at most 200 are allowed"],
  ])("refuses a name %s", (_what, name, problem) => {
    expect(circuitNameProblem(name)).toBe(problem);
  });

  it("quotes at most 60 characters of a long bad name", () => {
    const name = "-" + "a".repeat(99);
    expect(circuitNameProblem(name)).toBe(`"-${"a".repeat(59)}…" ${RULE}`);
  });

  it("names the character rule, not the length, for a bad name of exactly 200 or 60 characters", () => {
    expect(circuitNameProblem("-" + "a".repeat(199))).toBe(`"-${"a".repeat(59)}…" ${RULE}`);
    expect(circuitNameProblem("-" + "a".repeat(59))).toBe(`"-${"a".repeat(59)}" ${RULE}`);
  });

  it("agrees with the documented regex", () => {
    expect(CIRCUIT_NAME_RE.source).toBe("^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$");
  });
});

describe("patternProblem", () => {
  it.each(["*", "agent.*", "tool.?", "a".repeat(200)])("accepts %j", (pattern) => {
    expect(patternProblem(pattern)).toBeUndefined();
  });

  it.each<[string, string]>([
    ["", "is required"],
    ["agent *", '"agent *" must be 1 to 200 of letters, digits, . _ : / @ - and the wildcards * and ?'],
    ["a[b]", '"a[b]" must be 1 to 200 of letters, digits, . _ : / @ - and the wildcards * and ?'],
    ["a".repeat(201), `"${"a".repeat(60)}" must be 1 to 200 of letters, digits, . _ : / @ - and the wildcards * and ?`],
  ])("refuses %j", (pattern, problem) => {
    expect(patternProblem(pattern)).toBe(problem);
  });
});
