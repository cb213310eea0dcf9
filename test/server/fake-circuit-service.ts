/**
 * A tiny CircuitService implementation for transport tests: each behaviour is
 * selected by the circuit name or Watch prefix, and what the handlers observed
 * (contexts, stream finalisation, abort reasons) is recorded for assertions.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AcquireResponseSchema,
  CircuitService,
  State,
  WatchResponseSchema,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { WatchResponse } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { peerKey } from "../../src/server/grpc-adapter.js";

/** What the fake observed; tests read it after the calls. */
export interface FakeObservations {
  /** Resolves when a Watch stream's generator ran its finally block (the argument is its prefix). */
  watchFinished: Promise<string>;
  /** Number of Watch generators that ran their finally block. */
  watchesFinished: number;
  /** Messages yielded by the latest "endless" Watch before it was stopped. */
  endlessYielded: number;
  /** The abort reason seen by the latest "wait-signal" Acquire. */
  abortReason: unknown;
  /** Resolves when a "wait-signal" Acquire saw its signal abort. */
  aborted: Promise<void>;
  /** Peer as seen through ctx.values by the latest Acquire. */
  peer: string;
  /** Resolves when a "slow" Acquire has entered its handler. */
  slowStarted: Promise<void>;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function snapshot(circuit: string, padding = ""): WatchResponse {
  return create(WatchResponseSchema, {
    kind: { case: "snapshot", value: { circuit, state: State.CLOSED, configSources: padding ? [padding] : [] } },
  });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Acquire: "" → INVALID_ARGUMENT; "boom" → plain Error (INTERNAL);
 * "slow" → answers after 300 ms; "wait-signal" → waits for ctx.signal and
 * records the reason; "init" → returns an init object; anything else →
 * allowed with permit "permit-<circuit>", echoing request header x-agent as
 * response header x-agent and setting trailer x-served-by.
 *
 * Report: returns an init object (state OPEN). Other unary methods are left
 * unimplemented.
 *
 * Watch by prefix: "" → 3 snapshots then waits for ctx.signal; "many" → 2000
 * snapshots of ~1 KiB then ends; "endless" → yields as fast as allowed
 * forever; "fail" → 1 snapshot then OUT_OF_RANGE; "crash" → 1 snapshot then a
 * plain Error.
 */
export function createFakeCircuitService(): {
  impl: Partial<ServiceImpl<typeof CircuitService>>;
  seen: FakeObservations;
} {
  let watchDone = deferred<string>();
  let abortedDone = deferred<void>();
  let slowDone = deferred<void>();
  const seen: FakeObservations = {
    get watchFinished() {
      return watchDone.promise;
    },
    watchesFinished: 0,
    endlessYielded: 0,
    abortReason: undefined,
    get aborted() {
      return abortedDone.promise;
    },
    peer: "",
    get slowStarted() {
      return slowDone.promise;
    },
  };

  const impl: Partial<ServiceImpl<typeof CircuitService>> = {
    async acquire(request, ctx: HandlerContext) {
      seen.peer = ctx.values.get(peerKey);
      switch (request.circuit) {
        case "":
          throw new ConnectError("circuit must not be empty", Code.InvalidArgument);
        case "boom":
          throw new Error("redis password is hunter2");
        case "slow":
          slowDone.resolve();
          slowDone = deferred<void>();
          await sleep(300);
          break;
        case "wait-signal":
          await untilAborted(ctx.signal);
          seen.abortReason = ctx.signal.reason;
          abortedDone.resolve();
          abortedDone = deferred<void>();
          return { allowed: false };
        case "init":
          return { allowed: true, permit: "from-init" };
      }
      const agent = ctx.requestHeader.get("x-agent");
      if (agent !== null) ctx.responseHeader.set("x-agent", agent);
      ctx.responseTrailer.set("x-served-by", "fake");
      return create(AcquireResponseSchema, {
        allowed: true,
        permit: `permit-${request.circuit}`,
        state: State.CLOSED,
      });
    },
    report() {
      return { state: State.OPEN, duplicate: true };
    },
    async *watch(request, ctx) {
      try {
        switch (request.prefix) {
          case "": {
            for (const name of ["a", "b", "c"]) yield snapshot(name);
            await untilAborted(ctx.signal);
            return;
          }
          case "many": {
            const padding = "x".repeat(1024);
            for (let i = 0; i < 2000; i++) yield snapshot(`c${i}`, padding);
            return;
          }
          case "endless": {
            seen.endlessYielded = 0;
            for (;;) {
              seen.endlessYielded++;
              yield snapshot(`e${seen.endlessYielded}`, "y".repeat(1024));
            }
          }
          case "fail":
            yield snapshot("a");
            throw new ConnectError("resume token expired", Code.OutOfRange);
          case "crash":
            yield snapshot("a");
            throw new Error("store exploded");
        }
      } finally {
        seen.watchesFinished++;
        watchDone.resolve(request.prefix);
        watchDone = deferred<string>();
      }
    },
  };
  return { impl, seen };
}
