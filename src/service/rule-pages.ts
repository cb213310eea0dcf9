/**
 * ListPatternRules paging: one page of the rules in the order they are
 * consulted, and the opaque token (src/service/opaque-token.ts, kind "rules",
 * no scope) of the next.
 *
 * A token holds the last rule returned as its place in that order (runtime
 * rules by precedence then pattern, then the file's rules by position in the
 * file), not as an index: rules written or deleted while a client pages do
 * not shift the pages, and a rule that exists throughout is returned once.
 */
import { effectivePageSize, readPageToken, writePageToken } from "./paging.js";
import type { PatternRuleRecord } from "../store/store.js";

/** One page of pattern rules. */
export interface RulePage {
  rules: PatternRuleRecord[];
  /** "" on the last page. */
  nextPageToken: string;
}

/** A rule's place in the consulted order: [0 runtime | 1 file, precedence | file position, pattern]. */
type RuleKey = [number, number, string];

function compareKeys(a: RuleKey, b: RuleKey): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

function keysOf(rules: readonly PatternRuleRecord[]): RuleKey[] {
  let filePosition = 0;
  return rules.map((r) => (r.origin === "runtime" ? [0, r.precedence, r.pattern] : [1, filePosition++, r.pattern]));
}

/** The key a token's position holds, undefined when it is not one. */
function parseKey(position: string): RuleKey | undefined {
  let key: unknown;
  try {
    key = JSON.parse(position);
  } catch {
    return undefined;
  }
  const ok = Array.isArray(key) && key.length === 3 && typeof key[0] === "number" && typeof key[1] === "number" && typeof key[2] === "string";
  return ok ? (key as RuleKey) : undefined;
}

/**
 * The page of `rules` (every rule, in the consulted order) after
 * `pageToken` ("" for the first page), at most `pageSize` long (the shared
 * paging rules, src/service/paging.ts). Throws PageTokenError for a token
 * this RPC did not issue.
 */
export function pageOfRules(rules: readonly PatternRuleRecord[], pageSize: number, pageToken: string): RulePage {
  const limit = effectivePageSize(pageSize);
  const keys = keysOf(rules);
  const after = readPageToken("rules", [], pageToken, parseKey);
  let start = 0;
  if (after !== undefined) {
    start = keys.findIndex((k) => compareKeys(k, after) > 0);
    if (start < 0) start = keys.length;
  }
  const end = Math.min(start + limit, rules.length);
  const last = keys[end - 1];
  return { rules: rules.slice(start, end), nextPageToken: writePageToken("rules", [], end < rules.length && last !== undefined ? JSON.stringify(last) : undefined) };
}
