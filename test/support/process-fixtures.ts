/**
 * Suite fixtures for real processes: Breakerbox replicas (`node
 * dist/src/main.js`, replicas.ts) and the Redis servers they share
 * (redis-servers.ts), started in beforeAll and stopped in afterAll of the
 * current suite, as late-bound views (fixture.ts).
 *
 *   const redis = useRedis();
 *   const replica = useReplica(() => ({ REDIS_URL: redis.url }));   // env read once Redis runs
 *   it("...", () => replica.client.call("acquire", { circuit: "x" }));
 *
 * Fixtures stop in the reverse order of their calls: replicas before the
 * Redis under them. Processes a test starts itself (startReplica) are not the
 * fixtures' to stop: `afterEach(stopReplicas)` or `afterAll(stopReplicas)`.
 */
import { lateBound, useFixture } from "./fixture.js";
import { startRedis, startRedisSentinel, type RedisSentinelSetup, type RedisServer } from "./redis-servers.js";
import { startReplicas, type Replica } from "./replicas.js";

/** Environment of a replica, or a function that makes it once earlier fixtures (Redis) run. */
export type ReplicaEnv = Record<string, string> | (() => Record<string, string>);

const envOf = (env: ReplicaEnv): Record<string, string> => (typeof env === "function" ? env() : env);

/** `n` replicas with the same environment, started in parallel; their `client`s are connected. */
export function useReplicas(n: number, env: ReplicaEnv): Replica[] {
  const started = useFixture(
    `${n} replicas`,
    () => startReplicas(n, envOf(env)),
    // The suites' assertions are done by then: kill without the graceful drain.
    async (replicas) => void (await Promise.all(replicas.map((r) => r.stop(0)))),
  );
  return Array.from({ length: n }, (_, i) => lateBound(`replica ${i + 1} of ${n}`, () => started[i]));
}

/** One replica (see useReplicas). */
export function useReplica(env: ReplicaEnv = {}): Replica {
  return useReplicas(1, env)[0]!;
}

/** A redis-server on a free port (startRedis). */
export function useRedis(): RedisServer {
  return useFixture("redis-server", () => startRedis(), (redis) => redis.stop());
}

/** A Sentinel setup: one master, one replica, three sentinels (startRedisSentinel). */
export function useRedisSentinel(): RedisSentinelSetup {
  return useFixture("the Redis Sentinel setup", () => startRedisSentinel(), (sentinel) => sentinel.stop());
}
