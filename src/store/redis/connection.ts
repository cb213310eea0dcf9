/**
 * ioredis clients for the three ways of reaching Redis: one server (URL),
 * Sentinel (the master the sentinels name, followed across failovers) and
 * Cluster.
 *
 * Every client fails fast instead of queueing: with Redis away a command
 * errors at once (offline queue off) or after commandTimeoutMs, so Acquire
 * and Report answer UNAVAILABLE in bounded time, while the client keeps
 * reconnecting in the background and the service recovers by itself.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisConnection } from "../../config/index.js";

export interface RedisClients {
  /** The command connection. */
  client: Redis | Cluster;
  /** Another connection of the same kind (blocking reads, pub/sub). */
  duplicate: () => Redis | Cluster;
  cluster: boolean;
}

export interface ConnectOptions {
  commandTimeoutMs: number;
  /** Called with connection errors (ioredis retries by itself); for logs. */
  onError?: (err: Error) => void;
}

/** Reconnect quickly at first, then every second: an outage should end as soon as Redis is back. */
function retryStrategy(attempt: number): number {
  return Math.min(50 * attempt, 1000);
}

export function connectRedis(connection: RedisConnection, options: ConnectOptions): RedisClients {
  const common: RedisOptions = {
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    connectTimeout: Math.max(1000, options.commandTimeoutMs),
  };
  const watch = <T extends Redis | Cluster>(c: T): T => {
    c.on("error", (err: Error) => options.onError?.(err));
    return c;
  };
  switch (connection.mode) {
    case "single": {
      const auth = {
        ...(connection.username === undefined ? {} : { username: connection.username }),
        ...(connection.password === undefined ? {} : { password: connection.password }),
      };
      const make = (): Redis => watch(new Redis(connection.url, { ...common, ...auth }));
      return { client: make(), duplicate: make, cluster: false };
    }
    case "sentinel": {
      const make = (): Redis =>
        watch(
          new Redis({
            ...common,
            sentinels: connection.sentinels,
            name: connection.name,
            ...(connection.username === undefined ? {} : { username: connection.username }),
            ...(connection.password === undefined ? {} : { password: connection.password }),
            sentinelRetryStrategy: retryStrategy,
          }),
        );
      return { client: make(), duplicate: make, cluster: false };
    }
    case "cluster": {
      const make = (): Cluster =>
        watch(
          new Cluster(connection.nodes, {
            enableOfflineQueue: false,
            clusterRetryStrategy: retryStrategy,
            redisOptions: {
              ...common,
              ...(connection.username === undefined ? {} : { username: connection.username }),
              ...(connection.password === undefined ? {} : { password: connection.password }),
            },
          }),
        );
      return { client: make(), duplicate: make, cluster: true };
    }
  }
}
