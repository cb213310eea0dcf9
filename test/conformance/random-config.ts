/**
 * Seeded random config patches for the differential test, derived from
 * CONFIG_FIELD_LIST so a field added to the table is randomised with no
 * change here. Values stay inside each field's range and at test scale (the
 * test clock moves 1 ms to 5 s a step), so every rule can fire within a run:
 * small counts, durations up to 5 s, rates on a 0.01 grid, the zero that
 * turns a rule off now and then, and max_open_duration never below
 * open_duration.
 */
import { CONFIG_FIELD_LIST, type ConfigFieldSpec, type ConfigPatch } from "../../src/engine/index.js";

/** How far above its minimum a field is drawn, by kind: counts, numbers, durations (ms). */
const SPAN = { integer: 5, number: 2, duration: 5_000 } as const;

/** A value of `field` drawn from `rng` (see the module comment). */
export function randomFieldValue(field: ConfigFieldSpec, rng: () => number): boolean | number | string {
  if (field.kind === "boolean") return rng() < 0.25 ? field.default !== true : field.default === true;
  if (field.kind === "enum") {
    const values = field.values ?? [];
    return values[Math.floor(rng() * values.length)]!;
  }
  const min = field.min ?? 0;
  const max = Math.min(field.max ?? Number.MAX_SAFE_INTEGER, min + SPAN[field.kind]);
  if (field.zeroMeans !== undefined && min === 0 && rng() < 0.25) return 0;
  if (field.kind === "number") {
    const step = 0.01;
    let v = min + Math.round((rng() * (max - min)) / step) * step;
    if (field.minExclusive && v <= min) v = min + step;
    if (field.maxExclusive && v >= max) v = max - step;
    return Number(v.toFixed(2));
  }
  return min + Math.floor(rng() * (max - min + 1));
}

/**
 * A patch of 1 to 3 random fields. When it sets open_duration or
 * max_open_duration it sets both, the second at least the first, so the
 * merged config stays valid.
 */
export function randomPatch(rng: () => number): ConfigPatch {
  const patch: Record<string, unknown> = {};
  const count = 1 + Math.floor(rng() * 3);
  for (let i = 0; i < count; i++) {
    const field = CONFIG_FIELD_LIST[Math.floor(rng() * CONFIG_FIELD_LIST.length)]!;
    patch[field.key] = randomFieldValue(field, rng);
  }
  const p: ConfigPatch = patch;
  if (p.openDurationMs !== undefined || p.maxOpenDurationMs !== undefined) {
    const open = p.openDurationMs ?? (randomFieldValue(fieldOf("openDurationMs"), rng) as number);
    const max = p.maxOpenDurationMs ?? (randomFieldValue(fieldOf("maxOpenDurationMs"), rng) as number);
    p.openDurationMs = open;
    p.maxOpenDurationMs = Math.max(open, max);
  }
  return p;
}

function fieldOf(key: string): ConfigFieldSpec {
  return CONFIG_FIELD_LIST.find((f) => f.key === key)!;
}
