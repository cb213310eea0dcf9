/**
 * grpc.health.v1.Health: the serving status of each service and of the server
 * as a whole (service name ""), as load balancers, Kubernetes gRPC probes and
 * `grpc_health_probe` expect it. The registry is transport-free; the same
 * implementation object is served by grpc-js and by connect-node.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/ts/grpc/health/v1/health_pb.js";
import type { HealthCheckResponse } from "../../gen/ts/grpc/health/v1/health_pb.js";

/** grpc.health.v1's HealthCheckResponse.ServingStatus, under a shorter name. */
export { ServingStatus };

/** Options of {@link HealthRegistry}. */
export interface HealthRegistryOptions {
  /**
   * Called when a Watch stream starts: takes a stream slot and answers its
   * release, or throws (a ConnectError: Health has no error mapping of its
   * own) to refuse the stream. Default: streams are not limited.
   */
  openWatch?: () => () => void;
}

/** A status a service can be set to; UNKNOWN and SERVICE_UNKNOWN are answers, not states. */
export type SettableStatus = ServingStatus.SERVING | ServingStatus.NOT_SERVING;

/**
 * Serving status per service name; "" is the overall status of the server.
 *
 * - Starts with `initial`, by default `{"": SERVING}` (like grpc-go's health
 *   server): a server that answers at all is alive. Set "" to NOT_SERVING
 *   before listening if readiness must be earned.
 * - Watchers see the current status, then each change. Changes are coalesced:
 *   a slow watcher gets the latest status, not every intermediate one, and a
 *   `setStatus` that does not change the status sends nothing.
 * - `shutdown()` sets every known service to NOT_SERVING, ignores later
 *   `setStatus` calls, and ends every Watch stream after it has delivered
 *   NOT_SERVING, so a graceful server shutdown is not held up by watchers.
 * - With `options.openWatch`, each Watch stream takes a slot from it before
 *   its first status and gives it back when it ends (the server counts them
 *   against its Watch stream limit); what openWatch throws ends the stream.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, SettableStatus>();
  private readonly wakers = new Set<() => void>();
  private closed = false;
  private readonly openWatch: (() => () => void) | undefined;

  constructor(initial: Readonly<Record<string, SettableStatus>> = { "": ServingStatus.SERVING }, options: HealthRegistryOptions = {}) {
    this.openWatch = options.openWatch;
    for (const [service, status] of Object.entries(initial)) {
      this.statuses.set(service, status);
    }
  }

  /** True once `shutdown()` has been called. */
  get isShutdown(): boolean {
    return this.closed;
  }

  /**
   * Sets the status of `service` ("" for the whole server) and notifies its
   * watchers. A service becomes known on its first `setStatus`. Ignored
   * after `shutdown()`.
   */
  setStatus(service: string, status: SettableStatus): void {
    if (this.closed || this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.wakeAll();
  }

  /** The status of `service`, or undefined if it was never set. */
  getStatus(service: string): SettableStatus | undefined {
    return this.statuses.get(service);
  }

  /** A copy of every known service's status. */
  list(): Map<string, SettableStatus> {
    return new Map(this.statuses);
  }

  /**
   * Marks every known service NOT_SERVING, freezes the registry, and ends all
   * Watch streams (each first receives NOT_SERVING). Idempotent.
   */
  shutdown(): void {
    if (this.closed) return;
    for (const service of this.statuses.keys()) {
      this.statuses.set(service, ServingStatus.NOT_SERVING);
    }
    this.closed = true;
    this.wakeAll();
  }

  /**
   * Yields the status of `service` now (SERVICE_UNKNOWN if it was never set),
   * then every change, until `signal` aborts or the registry shuts down; then
   * it returns (no error). Throws, before the first status, what
   * `openWatch` throws. Safe to abandon early with `return()`.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    const release = this.openWatch?.();
    let wake: (() => void) | undefined;
    const waker = (): void => wake?.();
    this.wakers.add(waker);
    signal.addEventListener("abort", waker);
    try {
      let last: ServingStatus | undefined;
      for (;;) {
        if (signal.aborted) return;
        const current = this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (current !== last) {
          last = current;
          yield current;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.wakers.delete(waker);
      signal.removeEventListener("abort", waker);
      release?.();
    }
  }

  private wakeAll(): void {
    for (const waker of this.wakers) waker();
  }
}

/**
 * The Connect-style implementation of grpc.health.v1.Health over `registry`:
 * - Check: the status, or NOT_FOUND "unknown service <name>" for a service
 *   never set (as the health spec requires).
 * - Watch: the current status (SERVICE_UNKNOWN for an unknown service, without
 *   ending the call), then each change; ends with OK when the registry shuts
 *   down or the call ends.
 * - List: every known service with its status.
 */
export function createHealthImpl(registry: HealthRegistry): ServiceImpl<typeof Health> {
  const response = (status: ServingStatus): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status });
  return {
    check(request) {
      const status = registry.getStatus(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      }
      return response(status);
    },
    async *watch(request, ctx) {
      for await (const status of registry.watch(request.service, ctx.signal)) {
        yield response(status);
      }
    },
    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [service, status] of registry.list()) {
        statuses[service] = response(status);
      }
      return { statuses };
    },
  };
}
