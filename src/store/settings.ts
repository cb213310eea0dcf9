/** Helpers every store uses to apply Configure commands to explicit settings. */
import { type CircuitConfig, type ConfigSettings, mergePatches } from "../engine/index.js";
import type { ConfigureCommand } from "./store.js";

/** Folds a Configure command into earlier explicit settings (none when `replace`). */
export function combineSettings(previous: ConfigSettings | undefined, command: ConfigureCommand): ConfigSettings {
  const settings: ConfigSettings = { patch: mergePatches(previous?.patch, command.patch) };
  const preset = command.preset ?? previous?.preset;
  if (preset !== undefined) settings.preset = preset;
  return settings;
}

/** True when two resolved configs are field-for-field equal. */
export function sameConfig(a: CircuitConfig, b: CircuitConfig): boolean {
  for (const key of Object.keys(a) as (keyof CircuitConfig)[]) if (a[key] !== b[key]) return false;
  return true;
}
