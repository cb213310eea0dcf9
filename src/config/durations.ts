/**
 * Numbers and durations as operators write them: decimal text for
 * variables, seconds or text with a unit for config-file durations. Only the
 * form is checked here; whether a value suits a field is the engine's call.
 */
import { ConfigError } from "./config-error.js";
import { show } from "./problem-text.js";

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number written in text, or undefined. Rejects hex, "Infinity" and blanks, which Number() accepts. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Scales to milliseconds, removing the binary floating-point noise of the
 * multiplication (0.1 s is 100.00000000000001 ms) but keeping a genuine
 * sub-millisecond fraction, which the validators then reject.
 */
export function toMs(amount: number, msPerUnit: number): number {
  const ms = amount * msPerUnit;
  const whole = Math.round(ms);
  return Math.abs(ms - whole) < 1e-6 ? whole : ms;
}

const DURATION_TEXT = /^((?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h)?$/;
const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const DURATION_FORMS = 'a number of seconds or a string like "500ms", "15s", "1.5s", "5m", "1h" (whole milliseconds, not negative)';

/** Milliseconds, or undefined when `value` is not a duration. */
export function durationMs(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    ms = toMs(value, 1000);
  } else if (typeof value === "string") {
    const match = DURATION_TEXT.exec(value.trim());
    if (match === null) return undefined;
    ms = toMs(Number(match[1]), MS_PER_UNIT[match[2] ?? "s"] ?? 1000);
  } else {
    return undefined;
  }
  return ms >= 0 && Number.isInteger(ms) ? ms : undefined;
}

/**
 * Parses a duration as the config file spells it: a number of seconds
 * (`15`, `0.5`, also as text `"15"`) or text with a unit, `ms`, `s`, `m` or
 * `h` (`"500ms"`, `"1.5s"`, `"5m"`, `"1h"`). Returns whole milliseconds.
 * Spaces around the text and before the unit are ignored; units are lower
 * case only ("5M" could be read as months).
 *
 * Only the form is checked here: whether the duration suits a field is the
 * engine's `validatePatch`'s call. Throws a {@link ConfigError} naming `field`
 * for a negative value, a sub-millisecond fraction (`"1.5ms"`) or any other
 * text.
 */
export function parseDurationMs(value: string | number, field: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new ConfigError([`${field}: must be ${DURATION_FORMS}, got ${show(value)}`]);
  return ms;
}
