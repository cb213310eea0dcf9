/**
 * Where circuits live: the Redis variables (one server, Sentinel or
 * Cluster) and the store they select; in this process when none is set.
 */
import type * as z from "zod";
import { documented } from "./env-docs.js";
import { envText, reject, secondsVar, type IssueSink } from "./env-vars.js";

/** A Redis node address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** How to reach Redis: one server (REDIS_URL), Sentinel, or Cluster. */
export type RedisConnection =
  | { mode: "single"; url: string; username?: string; password?: string }
  | { mode: "sentinel"; sentinels: RedisNode[]; name: string; username?: string; password?: string }
  | { mode: "cluster"; nodes: RedisNode[]; username?: string; password?: string };

/**
 * Where circuits live: in this process (the default), or in Redis when
 * REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is set.
 */
export type StoreConfig =
  | { kind: "memory" }
  | {
      kind: "redis";
      connection: RedisConnection;
      /** Prefix of every key (BREAKERBOX_REDIS_KEY_PREFIX, default "bb:"). */
      keyPrefix: string;
      /** A Redis command not answered within this fails with UNAVAILABLE (BREAKERBOX_REDIS_TIMEOUT_SECONDS, default 2 s). */
      commandTimeoutMs: number;
    };

const DEFAULT_KEY_PREFIX = "bb:";

/** "host:port,host:port" → nodes; names the bad entry. */
function nodeList(text: string, ctx: IssueSink): RedisNode[] {
  const nodes: RedisNode[] = [];
  for (const entry of text.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || port < 1 || port > 65_535) {
      return reject(ctx, entry, `must be a comma-separated list of host:port, got ${JSON.stringify(entry)}`);
    }
    nodes.push({ host: m[1]!.replace(/^\[|\]$/g, ""), port });
  }
  if (nodes.length === 0) return reject(ctx, text, "must name at least one host:port");
  return nodes;
}

/** A variable listing Redis nodes (`host:port`, comma-separated), unset by default. */
function nodeListVar(meaning: string) {
  return documented(
    envText.transform((text, ctx) => (text === undefined ? undefined : nodeList(text, ctx))),
    { group: "redis", default: "unset", accepted: "comma-separated `host:port` (port 1–65535; IPv6 in brackets)", meaning },
  );
}
/**
 * The Redis variables, as entries of the environment schema (env.ts). The
 * URL is never quoted back in a message: it may carry a password.
 */
export const REDIS_ENV_SHAPE = {
  REDIS_URL: documented(
    envText.transform((text, ctx) => {
      if (text === undefined) return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return reject(ctx, "(hidden)", "must be a URL like redis://[user:password@]host:6379[/db] or rediss://... for TLS");
      }
      if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
        return reject(ctx, url.protocol, `must start with redis:// or rediss://, got ${url.protocol}//`);
      }
      return text;
    }),
    {
      group: "redis",
      default: "unset",
      accepted: "`redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS",
      meaning:
        "One Redis server. User and password go in the URL or (not both: refused at start) in `REDIS_USERNAME`, `REDIS_PASSWORD`. Never quoted in configuration errors (it may carry a password).",
    },
  ),
  REDIS_SENTINELS: nodeListVar("Redis through Sentinel: the sentinels to ask for the current master. Needs `REDIS_SENTINEL_NAME`."),
  REDIS_SENTINEL_NAME: documented(envText, {
    group: "redis",
    default: "unset; required with `REDIS_SENTINELS`",
    accepted: "the master name the sentinels monitor",
    meaning: "Which master of the sentinels holds the circuits.",
  }),
  REDIS_CLUSTER_NODES: nodeListVar("Redis Cluster: any seed nodes; the rest of the cluster is discovered from them."),
  REDIS_USERNAME: documented(envText, {
    group: "redis",
    default: "unset",
    accepted: "an ACL user name",
    meaning:
      "User for every Redis mode (with `REDIS_URL` it keeps credentials out of the URL, e.g. in a Kubernetes Secret; refused when the URL names a user too).",
  }),
  REDIS_PASSWORD: documented(envText, {
    group: "redis",
    default: "unset",
    accepted: "any text",
    meaning:
      "Password for every Redis mode (with `REDIS_URL`: refused when the URL carries a password too, so two passwords never compete).",
  }),
  BREAKERBOX_REDIS_KEY_PREFIX: documented(
    envText.transform((text, ctx) => {
      if (text === undefined) return DEFAULT_KEY_PREFIX;
      if (!/^[A-Za-z0-9._:-]{1,64}$/.test(text)) {
        return reject(ctx, text, `must be 1 to 64 letters, digits or . _ : -, got ${JSON.stringify(text)}`);
      }
      return text;
    }),
    {
      group: "redis",
      default: `\`${DEFAULT_KEY_PREFIX}\``,
      accepted: "1–64 letters, digits or `. _ : -`",
      meaning:
        "Prefix of every key Breakerbox writes, so several deployments can share one Redis ([operations.md](operations.md#key-layout)). Replicas sharing circuits must share it.",
    },
  ),
  BREAKERBOX_REDIS_TIMEOUT_SECONDS: secondsVar(0.05, 60, 2, {
    group: "redis",
    meaning:
      "A call waiting this long for Redis answers `UNAVAILABLE`; nothing queues up ([operations.md](operations.md#when-redis-is-unreachable)).",
  }),
};

/** The Redis variables as the schema above parsed them. */
export type RedisVars = { [K in keyof typeof REDIS_ENV_SHAPE]: z.output<(typeof REDIS_ENV_SHAPE)[K]> };

/** The store the Redis variables select, or the problem with them. */
export function storeConfig(vars: RedisVars): StoreConfig | { problem: string } {
  const modes = [
    vars.REDIS_URL === undefined ? undefined : "REDIS_URL",
    vars.REDIS_SENTINELS === undefined ? undefined : "REDIS_SENTINELS",
    vars.REDIS_CLUSTER_NODES === undefined ? undefined : "REDIS_CLUSTER_NODES",
  ].filter((m) => m !== undefined);
  if (modes.length === 0) return { kind: "memory" };
  if (modes.length > 1) return { problem: `${modes.join(", ")}: set only one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES` };
  const auth = {
    ...(vars.REDIS_USERNAME === undefined ? {} : { username: vars.REDIS_USERNAME }),
    ...(vars.REDIS_PASSWORD === undefined ? {} : { password: vars.REDIS_PASSWORD }),
  };
  let connection: RedisConnection;
  if (vars.REDIS_URL !== undefined) {
    // Credentials from REDIS_USERNAME/REDIS_PASSWORD (a Kubernetes Secret, say) or in the URL, not both:
    // two passwords, one silently winning, is how an operator locks a fleet out.
    const url = new URL(vars.REDIS_URL);
    if ((url.password !== "" && vars.REDIS_PASSWORD !== undefined) || (url.username !== "" && vars.REDIS_USERNAME !== undefined)) {
      return { problem: "REDIS_URL carries credentials and REDIS_USERNAME or REDIS_PASSWORD is set too: give them in one place" };
    }
    connection = { mode: "single", url: vars.REDIS_URL, ...auth };
  } else if (vars.REDIS_SENTINELS !== undefined) {
    if (vars.REDIS_SENTINEL_NAME === undefined) {
      return { problem: "REDIS_SENTINEL_NAME: is required with REDIS_SENTINELS (the master name the sentinels monitor)" };
    }
    connection = { mode: "sentinel", sentinels: vars.REDIS_SENTINELS, name: vars.REDIS_SENTINEL_NAME, ...auth };
  } else {
    connection = { mode: "cluster", nodes: vars.REDIS_CLUSTER_NODES!, ...auth };
  }
  return { kind: "redis", connection, keyPrefix: vars.BREAKERBOX_REDIS_KEY_PREFIX, commandTimeoutMs: vars.BREAKERBOX_REDIS_TIMEOUT_SECONDS };
}
