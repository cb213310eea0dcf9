/**
 * API keys: their form (BREAKERBOX_API_KEYS and the config file's
 * `api_keys`), uniqueness across both, and the start-up warning when there
 * are none. The roles are the access-control vocabulary of src/roles.ts.
 */
import { isIP } from "node:net";
import * as z from "zod";
import { ROLES, type ApiKey, type Role } from "../roles.js";
import { documented } from "./env-docs.js";
import { envText, type IssueSink } from "./env-vars.js";

/** Shortest API key accepted: 16 characters of visible ASCII. */
export const MIN_API_KEY_LENGTH = 16;
/** Key names are shown in logs and history; ":" and "," would break BREAKERBOX_API_KEYS. */
const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** What a Bearer token can carry in a header: visible ASCII, no spaces. */
const KEY_PATTERN = /^[\x21-\x7e]+$/;
/** What a key name must be, as messages say it. */
export const KEY_NAME_RULE = "must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit";
/** What a key must be, as messages say it (never quoting the key). */
export const KEY_RULE = `must be at least ${MIN_API_KEY_LENGTH} characters of visible ASCII (no spaces)`;

/**
 * A role as written, quoted only when it looks like a role word: a swapped
 * entry ("ops:<key>:admin") must not print the key in the log.
 */
function showRole(role: string): string {
  return /^[A-Za-z_]{1,15}$/.test(role) ? JSON.stringify(role) : "(not shown)";
}

/** Problems with one key's fields (none quotes the key); `where` prefixes each. */
export function apiKeyProblems(where: string, name: string, role: string, key: string): string[] {
  const problems: string[] = [];
  const label = KEY_NAME_PATTERN.test(name) ? `${where} (${JSON.stringify(name)})` : where;
  if (!KEY_NAME_PATTERN.test(name)) problems.push(`${where}: name ${KEY_NAME_RULE}`);
  if (!(ROLES as readonly string[]).includes(role)) problems.push(`${label}: unknown role ${showRole(role)}; accepted: ${ROLES.join(", ")}`);
  if (key.length < MIN_API_KEY_LENGTH || !KEY_PATTERN.test(key)) problems.push(`${label}: key ${KEY_RULE}`);
  return problems;
}

/** A checked key and where it was configured ("BREAKERBOX_API_KEYS entry 2"), for duplicate messages. */
export type SourcedKey = ApiKey & { where: string };

/**
 * BREAKERBOX_API_KEYS: "name:role:key,name:role:key". The key is everything
 * after the second colon. Empty entries (a trailing comma) are skipped.
 * Messages name entries by position and name, never by their text.
 */
function apiKeyList(text: string, ctx: IssueSink): SourcedKey[] {
  const keys: SourcedKey[] = [];
  let failed = false;
  const entries = text.split(",").map((e) => e.trim());
  entries.forEach((entry, i) => {
    if (entry === "") return;
    const where = `entry ${i + 1}`;
    const first = entry.indexOf(":");
    const second = first < 0 ? -1 : entry.indexOf(":", first + 1);
    if (second < 0) {
      failed = true;
      ctx.issues.push({
        code: "custom",
        input: "(hidden)",
        message: `${where} is not name:role:key (e.g. ci:agent:<a key of ${MIN_API_KEY_LENGTH} or more characters>); entries are separated by commas`,
      });
      return;
    }
    const name = entry.slice(0, first).trim();
    const role = entry.slice(first + 1, second).trim();
    const key = entry.slice(second + 1).trim();
    const problems = apiKeyProblems(where, name, role, key);
    for (const message of problems) ctx.issues.push({ code: "custom", input: "(hidden)", message });
    if (problems.length > 0) failed = true;
    else keys.push({ name, role: role as Role, key, where: `BREAKERBOX_API_KEYS ${where}` });
  });
  return failed ? z.NEVER : keys;
}

/** BREAKERBOX_API_KEYS, as an entry of the environment schema (env.ts); unset is no keys. */
export const API_KEYS_ENV_SHAPE = {
  BREAKERBOX_API_KEYS: documented(
    envText.transform((text, ctx) => (text === undefined ? [] : apiKeyList(text, ctx))),
    {
      group: "access",
      default: "unset (access control off)",
      accepted:
        `comma-separated \`name:role:key\` entries; role ${ROLES.map((r) => `\`${r}\``).join(" or ")}; ` +
        `key at least ${MIN_API_KEY_LENGTH} characters of visible ASCII, no spaces or commas (everything after the second \`:\`); ` +
        `name ${KEY_NAME_RULE.replace(/^must be /, "").replace(". _ @ -", "`. _ @ -`")}; names and keys unique`,
      meaning:
        "API keys, sent by clients as `authorization: Bearer <key>`. With at least one key (here or in the config file's `api_keys`), every CircuitService call needs one. See [operations.md](operations.md#access-control-and-tls).",
    },
  ),
};

/** Names and keys must be unique across BREAKERBOX_API_KEYS and the config file. */
export function duplicateKeyProblems(keys: readonly SourcedKey[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, SourcedKey>();
  const byKey = new Map<string, SourcedKey>();
  for (const k of keys) {
    const sameName = byName.get(k.name);
    if (sameName !== undefined) {
      problems.push(`${k.where}: name ${JSON.stringify(k.name)} is already used by ${sameName.where}; key names must be unique (they name the caller in history and logs)`);
    } else {
      byName.set(k.name, k);
    }
    const sameKey = byKey.get(k.key);
    if (sameKey !== undefined) {
      problems.push(`${k.where} (${JSON.stringify(k.name)}): same key as ${sameKey.where} (${JSON.stringify(sameKey.name)}); give every client its own key`);
    } else {
      byKey.set(k.key, k);
    }
  }
  return problems;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/**
 * What to tell the operator at start about access control, or undefined when
 * API keys are configured. With no keys every caller can do everything
 * (Reset, ForceState, Configure included), so:
 * - bound to loopback (the default then): a warning saying so and how to open it;
 * - bound to anything else (BREAKERBOX_HOST set): a louder warning.
 */
export function accessControlWarning(config: { readonly apiKeys: readonly ApiKey[]; readonly host: string }): string | undefined {
  if (config.apiKeys.length > 0) return undefined;
  if (isLoopbackHost(config.host)) {
    return `access control is off (no API keys): listening on ${config.host} only; set BREAKERBOX_API_KEYS to serve other hosts, or BREAKERBOX_HOST to override`;
  }
  return `ACCESS CONTROL IS OFF and BREAKERBOX_HOST=${config.host} is not a loopback address: anyone who can reach these ports can Reset, ForceState and Configure every circuit; set BREAKERBOX_API_KEYS (name:role:key,...) or bind 127.0.0.1`;
}
