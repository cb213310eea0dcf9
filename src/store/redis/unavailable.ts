/** Maps Redis connection failures to StoreUnavailableError, for every module that talks to Redis. */
import type { Cluster, Redis } from "ioredis";
import { InvalidConfigError, UnknownPresetError } from "../../engine/index.js";
import { ResumeTokenError, StoreUnavailableError } from "../store.js";

/** Runs `fn`, turning a connection failure into StoreUnavailableError; script errors and refusals pass through. */
export type Guard = <T>(fn: () => Promise<T>) => Promise<T>;

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // Script errors come back as ReplyError; everything else is the connection.
  return err.name !== "ReplyError";
}

/** A guard for commands sent on `client` (its status words the error). */
export function createGuard(client: Redis | Cluster): Guard {
  return async (fn) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ResumeTokenError || err instanceof InvalidConfigError || err instanceof UnknownPresetError) throw err;
      if (isConnectionError(err)) {
        const status = client.status;
        throw new StoreUnavailableError(
          status === "ready"
            ? `Redis did not answer in time (${(err as Error).message}); retry shortly`
            : `Redis is unreachable (connection ${status}); the circuit state is there, retry shortly`,
        );
      }
      throw err;
    }
  };
}
