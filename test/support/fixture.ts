/**
 * The mechanism under the test fixtures (useTestServer, useReplica, useRedis,
 * ...): a resource started by a vitest hook but named at collection time.
 *
 *   const redis = useFixture("redis", startRedis, (r) => r.stop());
 *   it("...", () => redis.url);   // the started server's url
 *
 * useFixture registers beforeAll/afterAll on the suite it is called in (the
 * file at top level, else the enclosing describe) and returns a late-bound
 * view: a stable object that forwards every property read to the resource
 * the hook started. Suites keep writing `redis.url`, `server.store`,
 * `client.call(...)` as they did with a `let` assigned in beforeAll, without
 * the `let`, the hook pair and the teardown that every suite repeated.
 */
import { afterAll, beforeAll } from "vitest";

/**
 * A stable stand-in for the object `current()` returns at the time of each
 * property read (methods are bound to that object). Reading a property while
 * `current()` is undefined throws, naming `what`: it means the resource is
 * used at collection time or by a hook registered before the fixture's own.
 */
export function lateBound<T extends object>(what: string, current: () => T | undefined): T {
  const target = (): T => {
    const value = current();
    if (value === undefined) throw new Error(`${what} is not started yet: use it in tests, or in hooks registered after the fixture`);
    return value;
  };
  return new Proxy({} as T, {
    get(_, key) {
      const resource = target();
      const value: unknown = Reflect.get(resource, key, resource);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(resource) : value;
    },
    set(_, key, value) {
      return Reflect.set(target(), key, value);
    },
    has(_, key) {
      return Reflect.has(target(), key);
    },
  });
}

/**
 * Starts `start()` in beforeAll and `stop()`s it in afterAll of the current
 * suite; returns a late-bound view of it (see lateBound). A start that failed
 * leaves nothing to stop. vitest runs afterAll hooks in reverse order, so a
 * fixture used by another (Redis under a replica) is stopped after it.
 */
export function useFixture<T extends object>(what: string, start: () => Promise<T>, stop: (resource: T) => Promise<void> | void): T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await start();
  });
  afterAll(async () => {
    if (resource !== undefined) await stop(resource);
  });
  return lateBound(what, () => resource);
}
