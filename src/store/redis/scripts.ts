/**
 * The Lua command scripts: read from lua/*.lua once, with the shared engine
 * and prelude prepended, and registered on an ioredis client with
 * defineCommand, which sends EVALSHA and falls back to EVAL (reloading the
 * script) after NOSCRIPT, e.g. after a failover to a replica that never saw it.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Cluster, Redis } from "ioredis";
import type { CircuitConfig } from "../../engine/index.js";

/** The commands, by the name they get on the client, with their key count. */
export const COMMANDS = {
  bbAcquire: "acquire",
  bbReport: "report",
  bbRead: "read",
  bbAdmin: "admin",
  bbConfigure: "configure",
} as const;

export type CommandName = keyof typeof COMMANDS;

/** The Lua sources beside this module (`npm run build` copies them into dist/). */
function luaDir(): string {
  return fileURLToPath(new URL("./lua/", import.meta.url));
}

let sources: Record<CommandName, string> | undefined;

/** The full source of each command: engine + prelude + command body. */
export function commandSources(): Record<CommandName, string> {
  if (sources !== undefined) return sources;
  const dir = luaDir();
  const read = (name: string): string => readFileSync(`${dir}${name}.lua`, "utf8");
  const shared = `${read("engine")}\n${read("prelude")}\n`;
  const out = {} as Record<CommandName, string>;
  for (const [command, file] of Object.entries(COMMANDS) as [CommandName, string][]) {
    out[command] = `${shared}${read(file)}`;
  }
  sources = out;
  return out;
}

/**
 * Registers every command on `client`. The event stream key is KEYS[6] when
 * the script appends events itself; in Cluster mode it cannot (another slot)
 * and the script is called with 5 keys.
 */
export function defineCommands(client: Redis | Cluster): void {
  for (const [command, lua] of Object.entries(commandSources()) as [CommandName, string][]) {
    client.defineCommand(command, { lua });
  }
}

const packed = new WeakMap<CircuitConfig, string>();

/**
 * The config as the scripts take it (ARGV[8]): its 15 values as a JSON array,
 * in the order engine.lua's read_config reads them (one cjson.decode there,
 * cheaper than splitting a string). One argument instead of fifteen, built
 * once per resolved config object. The values are finite (validateConfig), so
 * every one is a JSON number, printed as Number#toString prints it.
 */
export function packConfig(c: CircuitConfig): string {
  let s = packed.get(c);
  if (s === undefined) {
    s = JSON.stringify(configValues(c));
    packed.set(c, s);
  }
  return s;
}

function configValues(c: CircuitConfig): number[] {
  return [
    c.enabled ? 1 : 0,
    c.failureThreshold,
    c.failureRateThreshold,
    c.minimumCalls,
    c.windowMs,
    c.slowCallDurationMs,
    c.slowCallRateThreshold,
    c.openDurationMs,
    c.backoffMultiplier,
    c.maxOpenDurationMs,
    c.halfOpenMaxCalls,
    c.successThreshold,
    c.permitTtlMs,
    c.jitter,
    c.mode === "shadow" ? 1 : 0,
  ];
}
