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
import { decodeToken, encodeToken } from "./opaque-token.js";
import { InvalidArgumentError } from "./errors.js";
import type { PatternRuleRecord } from "../store/store.js";

/** page_size 0 reads as this. */
export const DEFAULT_RULES_PAGE_SIZE = 100;
/** A larger page_size reads as this. */
export const MAX_RULES_PAGE_SIZE = 1000;

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

function readKey(token: string): RuleKey {
  const refuse = (): never => {
    throw new InvalidArgumentError("page_token", "is not a token from ListPatternRulesResponse.next_page_token; pass it unchanged, or omit it for the first page");
  };
  const decoded = decodeToken("rules", [], token);
  if ("problem" in decoded) return refuse();
  let key: unknown;
  try {
    key = JSON.parse(decoded.position);
  } catch {
    return refuse();
  }
  if (!Array.isArray(key) || key.length !== 3 || typeof key[0] !== "number" || typeof key[1] !== "number" || typeof key[2] !== "string") {
    return refuse();
  }
  return key as RuleKey;
}

/**
 * The page of `rules` (every rule, in the consulted order) after
 * `pageToken` ("" for the first page), at most `pageSize` long (0 reads as
 * {@link DEFAULT_RULES_PAGE_SIZE}, more than {@link MAX_RULES_PAGE_SIZE} as
 * that). Throws InvalidArgumentError on page_token for a token this RPC did
 * not issue.
 */
export function pageOfRules(rules: readonly PatternRuleRecord[], pageSize: number, pageToken: string): RulePage {
  const limit = pageSize === 0 ? DEFAULT_RULES_PAGE_SIZE : Math.min(pageSize, MAX_RULES_PAGE_SIZE);
  const keys = keysOf(rules);
  let start = 0;
  if (pageToken !== "") {
    const after = readKey(pageToken);
    start = keys.findIndex((k) => compareKeys(k, after) > 0);
    if (start < 0) start = keys.length;
  }
  const end = Math.min(start + limit, rules.length);
  const last = keys[end - 1];
  const nextPageToken = end < rules.length && last !== undefined ? encodeToken("rules", [], JSON.stringify(last)) : "";
  return { rules: rules.slice(start, end), nextPageToken };
}
