/**
 * breakerbox.v1.CircuitService as a Connect-style implementation over the
 * transport-free service. Both listeners serve this one object: connect-node
 * directly, grpc-js through src/server/grpc-adapter.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  AcquireAnyResponseSchema,
  AcquireResponseSchema,
  CircuitService,
  ConfigureResponseSchema,
  DenialSchema,
  DenyReason as ProtoDenyReason,
  ForceStateResponseSchema,
  GetHistoryResponseSchema,
  GetStateResponseSchema,
  HeartbeatSchema,
  ListCircuitsResponseSchema,
  ReportResponseSchema,
  ResetResponseSchema,
  SnapshotCompleteSchema,
  WatchResponseSchema,
  type WatchResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { AccessControl } from "../service/access.js";
import type { Breakerbox } from "../service/breakerbox.js";
import type { WatchMessage } from "../service/watch-hub.js";
import {
  DENY_REASON_TO_PROTO,
  STATE_TO_PROTO,
  eventToProto,
  historyEntryToProto,
  msFromDuration,
  outcomeFromProto,
  patchFromProto,
  retryAfterToProto,
  stateFromProto,
  statusToProto,
} from "./convert.js";
import { ANONYMOUS, createAuthorizer } from "./auth.js";
import { LogThrottle } from "./log-throttle.js";
import { isClientError, toConnectError } from "./status.js";

const REPEAT_LOG_INTERVAL_MS = 5000;

export interface CircuitServiceImplOptions {
  service: Breakerbox;
  logger: Logger;
  /**
   * The API keys. Given: every RPC needs `authorization: Bearer <key>` with a
   * key whose role allows it (else UNAUTHENTICATED / PERMISSION_DENIED), and
   * admin actions record the key's name as their actor. Omitted: access
   * control is off, every caller may do everything, and the actor is
   * "anonymous".
   */
  access?: AccessControl;
}

function watchMessageToProto(m: WatchMessage): WatchResponse {
  switch (m.kind) {
    case "snapshot":
      return create(WatchResponseSchema, { kind: { case: "snapshot", value: statusToProto(m.status) } });
    case "event":
      return create(WatchResponseSchema, { kind: { case: "event", value: eventToProto(m.event) } });
    case "snapshot_complete":
      return create(WatchResponseSchema, {
        kind: { case: "snapshotComplete", value: create(SnapshotCompleteSchema, { resumeToken: m.resumeToken }) },
      });
    case "heartbeat":
      return create(WatchResponseSchema, {
        kind: { case: "heartbeat", value: create(HeartbeatSchema, { at: timestampFromMs(m.at) }) },
      });
    case "status":
      return create(WatchResponseSchema, { kind: { case: "status", value: statusToProto(m.status) } });
  }
}

/**
 * Builds the implementation. Every handler funnels errors through
 * toConnectError, logging client errors as warnings and the rest as errors.
 */
export function createCircuitServiceImpl(options: CircuitServiceImplOptions): ServiceImpl<typeof CircuitService> {
  const { service, logger } = options;
  // Off: one branch per call and nothing else (the hot path is measured
  // against a no-op RPC).
  const authorize = options.access === undefined ? undefined : createAuthorizer(options.access);
  // A store outage fails every call alike, and a misconfigured agent repeats
  // the same bad request: one line per kind per interval, with how many were
  // held back, instead of one per call.
  const throttle = new LogThrottle({ intervalMs: REPEAT_LOG_INTERVAL_MS });
  const fail = (method: string, err: unknown): never => {
    const ce = toConnectError(err);
    if (ce.code === Code.Unavailable) {
      const heldBack = throttle.admit("unavailable");
      if (heldBack !== undefined) {
        logger.warn({ method, heldBack, reason: ce.rawMessage }, "store unavailable; calls answered UNAVAILABLE");
      }
    } else if (isClientError(ce.code)) {
      const heldBack = throttle.admit(`${method}\n${ce.code}\n${ce.rawMessage}`);
      if (heldBack !== undefined) logger.warn({ method, code: ce.code, reason: ce.rawMessage, heldBack }, "request rejected");
    } else {
      logger.error({ method, code: ce.code, err: ce.cause ?? err }, "request failed");
    }
    throw ce;
  };

  return {
    async acquire(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "Acquire");
        const d = await service.acquire(req.circuit);
        return create(AcquireResponseSchema, {
          allowed: d.allowed,
          permit: d.permit ?? "",
          state: STATE_TO_PROTO[d.state],
          retryAfter: retryAfterToProto(d.retryAfterMs),
          reason: d.reason === undefined ? ProtoDenyReason.UNSPECIFIED : DENY_REASON_TO_PROTO[d.reason],
          shadowDenied: d.shadowDenied,
        });
      } catch (err) {
        return fail("Acquire", err);
      }
    },

    async acquireAny(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "AcquireAny");
        const r = await service.acquireAny(req.circuits);
        return create(AcquireAnyResponseSchema, {
          allowed: r.chosen !== undefined,
          circuit: r.chosen?.circuit ?? "",
          permit: r.chosen?.decision.permit ?? "",
          state: r.chosen === undefined ? 0 : STATE_TO_PROTO[r.chosen.decision.state],
          denials: r.denials.map((d) =>
            create(DenialSchema, {
              circuit: d.circuit,
              state: STATE_TO_PROTO[d.decision.state],
              retryAfter: retryAfterToProto(d.decision.retryAfterMs),
              reason: d.decision.reason === undefined ? ProtoDenyReason.UNSPECIFIED : DENY_REASON_TO_PROTO[d.decision.reason],
            }),
          ),
          retryAfter: retryAfterToProto(r.retryAfterMs),
        });
      } catch (err) {
        return fail("AcquireAny", err);
      }
    },

    async report(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "Report");
        const ack = await service.report({
          circuit: req.circuit,
          permit: req.permit,
          outcome: outcomeFromProto(req.outcome),
          durationMs: msFromDuration("duration", req.duration),
          retryAfterMs: msFromDuration("retry_after", req.retryAfter),
        });
        return create(ReportResponseSchema, { state: STATE_TO_PROTO[ack.state], duplicate: ack.duplicate, stale: ack.stale });
      } catch (err) {
        return fail("Report", err);
      }
    },

    async getState(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "GetState");
        return create(GetStateResponseSchema, { status: statusToProto(await service.getState(req.circuit)) });
      } catch (err) {
        return fail("GetState", err);
      }
    },

    async listCircuits(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "ListCircuits");
        const page = await service.listCircuits({
          prefix: req.prefix,
          state: stateFromProto("state", req.state),
          pageSize: req.pageSize,
          pageToken: req.pageToken,
        });
        return create(ListCircuitsResponseSchema, {
          circuits: page.circuits.map(statusToProto),
          nextPageToken: page.nextPageToken,
        });
      } catch (err) {
        return fail("ListCircuits", err);
      }
    },

    async getHistory(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "GetHistory");
        const entries = await service.getHistory(req.circuit, req.limit);
        return create(GetHistoryResponseSchema, { entries: entries.map(historyEntryToProto) });
      } catch (err) {
        return fail("GetHistory", err);
      }
    },

    async reset(req, ctx) {
      try {
        const caller = authorize === undefined ? ANONYMOUS : authorize(ctx, "Reset");
        return create(ResetResponseSchema, { status: statusToProto(await service.reset(req.circuit, caller)) });
      } catch (err) {
        return fail("Reset", err);
      }
    },

    async forceState(req, ctx) {
      try {
        const caller = authorize === undefined ? ANONYMOUS : authorize(ctx, "ForceState");
        const view = await service.forceState(req.circuit, stateFromProto("state", req.state), caller);
        return create(ForceStateResponseSchema, { status: statusToProto(view) });
      } catch (err) {
        return fail("ForceState", err);
      }
    },

    async configure(req, ctx) {
      try {
        const caller = authorize === undefined ? ANONYMOUS : authorize(ctx, "Configure");
        const t = req.target;
        const target =
          t.case === "circuit"
            ? { kind: "circuit" as const, circuit: t.value }
            : t.case === "pattern"
              ? { kind: "pattern" as const, pattern: t.value }
              : undefined;
        const result = await service.configure(
          { target, patch: patchFromProto(req.config), preset: req.preset, replace: req.replace },
          caller,
        );
        const res = create(ConfigureResponseSchema, { matchedCircuits: result.matchedCircuits });
        if (result.status !== undefined) res.status = statusToProto(result.status);
        return res;
      } catch (err) {
        return fail("Configure", err);
      }
    },

    async *watch(req, ctx) {
      try {
        if (authorize !== undefined) authorize(ctx, "Watch");
        const stream = service.watch(
          {
            circuits: req.circuits,
            prefix: req.prefix,
            resumeToken: req.resumeToken,
            statusIntervalMs: msFromDuration("status_interval", req.statusInterval),
          },
          ctx.signal,
        );
        for await (const message of stream) yield watchMessageToProto(message);
      } catch (err) {
        fail("Watch", err);
      }
    },
  };
}
