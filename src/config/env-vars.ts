/**
 * Building blocks of the environment schemas: a variable's text, how a
 * transform refuses it, integers and seconds in a range, and how zod's
 * issues become problems naming the variable.
 */
import * as z from "zod";
import { MIN_PERMIT_SECRET_BYTES } from "../engine/permit.js";
import { parseDecimal } from "./durations.js";
import { documented, rangeDoc, type EnvGroup, type RangeDoc } from "./env-docs.js";

/** The environment as read: `process.env` or a test's object. */
export type RawEnv = Record<string, string | undefined>;

/**
 * A variable's text, trimmed; empty or blank counts as unset, because
 * `FOO=` in a compose file or manifest means "no value" far more often than
 * "the empty string".
 */
export const envText = z
  .string()
  .optional()
  .transform((value) => {
    const text = value?.trim();
    return text === undefined || text === "" ? undefined : text;
  });

/** Where a zod transform reports what it refuses. */
export type IssueSink = { issues: z.core.$ZodRawIssue[] };

/** Refuses a variable's text with `message`; returns zod's NEVER so a transform can `return reject(...)`. */
export function reject(ctx: IssueSink, input: string, message: string): never {
  ctx.issues.push({ code: "custom", message, input });
  return z.NEVER;
}

/** An integer in [min, max]; `fallback` when unset. `doc` is its reference entry, whose range and default are these. */
export function integerVar(min: number, max: number, fallback: number, doc: RangeDoc) {
  const schema = envText.transform((text, ctx) => {
    if (text === undefined) return fallback;
    const n = parseDecimal(text);
    if (n === undefined || !Number.isInteger(n) || n < min || n > max) {
      return reject(ctx, text, `must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return n;
  });
  return documented(schema, rangeDoc("integer", min, max, fallback, doc));
}

/** A number of seconds (fractions allowed) in [min, max], returned as whole milliseconds. `doc` as for {@link integerVar}. */
export function secondsVar(min: number, max: number, fallbackSeconds: number, doc: RangeDoc) {
  const schema = envText.transform((text, ctx) => {
    if (text === undefined) return fallbackSeconds * 1000;
    const n = parseDecimal(text);
    if (n === undefined || n < min || n > max) {
      return reject(ctx, text, `must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return Math.round(n * 1000);
  });
  return documented(schema, rangeDoc("seconds", min, max, fallbackSeconds, doc));
}

/** One problem per issue, naming the variable. */
export function formatEnvIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${String(issue.path[0] ?? "environment")}: ${issue.message}`);
}

/**
 * A permit secret: its UTF-8 bytes, at least 32 of them; undefined when
 * unset. The refusal never quotes the value, so a secret stays out of logs.
 */
export function permitSecretVar(doc: { group: EnvGroup; default: string; meaning: string }) {
  const schema = envText.transform((text, ctx) => {
    if (text === undefined) return undefined;
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length < MIN_PERMIT_SECRET_BYTES) {
      return reject(ctx, "(hidden)", `must be at least ${MIN_PERMIT_SECRET_BYTES} bytes (e.g. openssl rand -base64 32), got ${bytes.length}`);
    }
    return bytes;
  });
  const accepted = `at least ${MIN_PERMIT_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 32\`); shorter refuses to start`;
  return documented(schema, { ...doc, accepted });
}
