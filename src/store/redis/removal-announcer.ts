/**
 * Announces idle circuits that Redis expired (PEXPIRE, set by
 * includes/engine.lua commit) to every replica's watchers: Redis tells no
 * one when a key expires unless keyspace notifications for expired keys are
 * on, so at start this turns them on (notify-keyspace-events gains "Ex"),
 * then listens on `__keyevent@<db>__:expired` and, for each circuit hash
 * that expired, runs announce-removal.lua, which writes one "rm" stream
 * entry however many replicas heard it. The event feed (event-feed.ts) hands
 * that entry to watchers as circuit_removed (idle_evicted), positioned and
 * resumable like any entry.
 *
 * At most once: pub/sub keeps nothing for a subscriber that is not
 * connected, so an expiry while no replica is subscribed (all down, or
 * Redis failing over) is never announced. Single server and Sentinel only:
 * in Cluster each node notifies only its own keys' expiries.
 */
import type { Redis } from "ioredis";
import type { KeySpace } from "./keys.js";

export interface RemovalAnnouncerOptions {
  /** The command connection: CONFIG GET/SET go on it. */
  client: Redis;
  /** A dedicated connection: SUBSCRIBE holds it. */
  subscriber: Redis;
  keys: KeySpace;
  /** Writes the removal entry of a circuit whose hash expired (announce-removal.lua). */
  announce: (circuit: string) => Promise<unknown>;
  /** Told once when notify-keyspace-events could not be read or set (CONFIG refused). */
  onWarning: (message: string, details: Record<string, unknown>) => void;
}

export interface RemovalAnnouncer {
  /** Turns expired-key notifications on (or warns) and subscribes; rejects when Redis is unreachable. */
  start(): Promise<void>;
  close(): void;
}

/**
 * True when notify-keyspace-events `flags` publish expired-key events on the
 * keyevent channels: "E" plus "x" (or "A", every class).
 */
export function publishesExpiredKeyEvents(flags: string): boolean {
  return flags.includes("E") && (flags.includes("x") || flags.includes("A"));
}

/** The notify-keyspace-events value that keeps `flags` and adds expired-key events. */
export function withExpiredKeyEvents(flags: string): string {
  return publishesExpiredKeyEvents(flags) ? flags : `${flags}Ex`;
}

/** How soon a notification check that could not reach Redis is tried again. */
const RECHECK_RETRY_MS = 500;

export function createRemovalAnnouncer(options: RemovalAnnouncerOptions): RemovalAnnouncer {
  const { client, subscriber, keys } = options;
  const channel = `__keyevent@${client.options.db ?? 0}__:expired`;
  let warned = false;

  /**
   * Turns the notifications on unless they are; keeps the flags already set
   * (other software may rely on them). CONFIG refused (renamed away, ACL,
   * managed Redis): warns once and carries on subscribed, since the server
   * may have them on from its own config file.
   */
  const ensureNotifications = async (): Promise<void> => {
    try {
      const reply = (await client.config("GET", "notify-keyspace-events")) as string[];
      const flags = reply[1] ?? "";
      if (!publishesExpiredKeyEvents(flags)) await client.config("SET", "notify-keyspace-events", withExpiredKeyEvents(flags));
    } catch (err) {
      if (!(err instanceof Error) || err.name !== "ReplyError") throw err;
      if (warned) return;
      warned = true;
      options.onWarning(
        "redis refused CONFIG for notify-keyspace-events: idle circuit removals are announced to watchers only if the server already publishes expired-key events; set notify-keyspace-events Ex (redis.conf or your provider's parameter group)",
        { err: err.message },
      );
    }
  };

  subscriber.on("message", (from: string, key: string) => {
    if (from !== channel) return;
    const circuit = keys.circuitOf(key);
    // A failure (Redis away) loses this announcement: at most once, as documented.
    if (circuit !== undefined) void options.announce(circuit).catch(() => undefined);
  });
  // After a reconnect (a Sentinel failover reaches a server that may not have
  // the notifications on: CONFIG SET is not replicated), check them again,
  // when either connection is back (CONFIG goes on the command connection);
  // ioredis resubscribes by itself.
  // A check that fails for want of a connection (the failover is still
  // settling) is tried again every RECHECK_RETRY_MS until one goes through,
  // so the new master gets the notifications within a bounded time of the
  // store reaching it, not only at the next reconnect.
  let started = false;
  let retry: NodeJS.Timeout | undefined;
  const recheck = (): void => {
    if (!started) return;
    if (retry !== undefined) clearTimeout(retry);
    retry = undefined;
    ensureNotifications().catch(() => {
      if (started) retry = setTimeout(recheck, RECHECK_RETRY_MS).unref();
    });
  };
  subscriber.on("ready", recheck);
  client.on("ready", recheck);

  return {
    async start() {
      await ensureNotifications();
      await subscriber.subscribe(channel);
      started = true;
    },
    close() {
      started = false;
      if (retry !== undefined) clearTimeout(retry);
      client.off("ready", recheck);
      subscriber.disconnect();
    },
  };
}
