/**
 * breakerbox.v1.CircuitService as a Connect-style implementation over the
 * transport-free service. Both listeners serve this one object, wrapped in the
 * same interceptors: connect-node directly, grpc-js through
 * src/server/grpc-adapter.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import {
  AcquireAnyResponseSchema,
  AcquireResponseSchema,
  CircuitService,
  ConfigureResponseSchema,
  DeletePatternRuleResponseSchema,
  DenialSchema,
  DenyReason as ProtoDenyReason,
  ForceStateResponseSchema,
  GetHistoryResponseSchema,
  GetStateResponseSchema,
  HeartbeatSchema,
  ListCircuitsResponseSchema,
  ListPatternRulesResponseSchema,
  type ReportRequest as ProtoReportRequest,
  BatchReportResponseSchema,
  BatchReportResultSchema,
  ResetResponseSchema,
  SnapshotCompleteSchema,
  WatchResponseSchema,
  type WatchResponse,
} from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import type { Breakerbox, Caller, ConfigureRequest, ReportCall } from "../service/breakerbox.js";
import { type WatchMessage, sharedPartOf } from "../service/watch-hub.js";
import { sharedWatchKind } from "./watch-encoding.js";
import {
  DENY_REASON_TO_PROTO,
  STATE_TO_PROTO,
  circuitRemovedToProto,
  configChangeToProto,
  eventToProto,
  historyEntryToProto,
  msFromDuration,
  outcomeFromProto,
  patchFromProto,
  patternRuleToProto,
  pinFromProto,
  reportAckToProto,
  retryAfterToProto,
  stateFromProto,
  statusToProto,
} from "./convert.js";
import { callerOf } from "./auth.js";
import { toStatusProto } from "./status.js";

/** Options of {@link createCircuitServiceImpl}. */
export interface CircuitServiceImplOptions {
  /** The transport-free service every handler calls. */
  service: Breakerbox;
  /**
   * Called with a BatchReport report's error when its result is INTERNAL (a
   * bug, not a bad request): the error interceptor never sees it, since the
   * call itself succeeds. Default: ignore.
   */
  onBatchReportError?: (err: unknown, index: number) => void;
}

/** The `kind` of each log entry, converted once for every stream it goes to (watch-encoding.ts). */
const sharedKinds = new WeakMap<object, WatchResponse["kind"]>();

/** One Watch message, with its resume token ("" on snapshot and status). */
function watchMessageToProto(m: WatchMessage): WatchResponse {
  const shared = sharedPartOf(m);
  let kind: WatchResponse["kind"] | undefined;
  if (shared !== undefined) {
    kind = sharedKinds.get(shared);
    if (kind === undefined) sharedKinds.set(shared, (kind = sharedWatchKind(watchKindToProto(m))));
  }
  return create(WatchResponseSchema, { kind: kind ?? watchKindToProto(m), resumeToken: m.resumeToken });
}

function watchKindToProto(m: WatchMessage): WatchResponse["kind"] {
  switch (m.kind) {
    case "snapshot":
      return { case: "snapshot", value: statusToProto(m.status) };
    case "event":
      return { case: "event", value: eventToProto(m.event) };
    case "snapshot_complete":
      return { case: "snapshotComplete", value: create(SnapshotCompleteSchema, { resumeToken: m.resumeToken }) };
    case "heartbeat":
      return { case: "heartbeat", value: create(HeartbeatSchema, { at: timestampFromMs(m.at), resumeToken: m.resumeToken }) };
    case "status":
      return { case: "status", value: statusToProto(m.status) };
    case "config_change":
      return { case: "configChange", value: configChangeToProto(m.change, m.circuit) };
    case "circuit_removed":
      return { case: "circuitRemoved", value: circuitRemovedToProto(m.circuit, m.cause, m.at) };
  }
}

/**
 * `source` with each message converted, as an iterator object rather than an
 * async generator: every Watch message of thousands of streams passes
 * through here, and a generator adds its own queue and promise steps to each.
 * return() (the client went away) is passed on, so the source's finally
 * blocks run.
 */
function mapStream<T, U>(source: AsyncIterable<T>, convert: (value: T) => U): AsyncIterable<U> {
  return {
    [Symbol.asyncIterator]: () => {
      const it = source[Symbol.asyncIterator]();
      return {
        next: () => it.next().then((r) => (r.done === true ? { done: true, value: undefined } : { done: false, value: convert(r.value) })),
        return: async () => {
          await it.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** The caller with the agent instance its request declares (only from that field). */
function withAgentInstance(caller: Caller, agentInstanceId: string): Caller {
  return agentInstanceId === "" ? caller : { ...caller, agentInstanceId };
}

/**
 * A ReportRequest for the service; `field` prefixes the request fields a
 * conversion error names (BatchReport's "reports[i].").
 */
function reportCallFromProto(req: ProtoReportRequest, caller: Caller, field = ""): ReportCall {
  return {
    request: {
      circuit: req.circuit,
      permit: req.permit,
      outcome: outcomeFromProto(req.outcome, `${field}outcome`),
      durationMs: msFromDuration(`${field}duration`, req.duration),
      retryAfterMs: msFromDuration(`${field}retry_after`, req.retryAfter),
    },
    caller: withAgentInstance(caller, req.agentInstanceId),
  };
}

/**
 * Builds the implementation. Handlers translate between protobuf messages and
 * the service and throw the service's errors as they are: access control,
 * the mapping of errors to status codes (with their logging) and RPC metrics
 * are interceptors around every method, applied by both listeners (see
 * src/app.ts). Admin RPCs record `callerOf(ctx)` as their actor.
 */
export function createCircuitServiceImpl(options: CircuitServiceImplOptions): ServiceImpl<typeof CircuitService> {
  const { service } = options;
  return {
    async acquire(req, ctx) {
      const d = await service.acquire(req.circuit, withAgentInstance(callerOf(ctx), req.agentInstanceId));
      return create(AcquireResponseSchema, {
        allowed: d.allowed,
        permit: d.permit ?? "",
        state: STATE_TO_PROTO[d.state],
        retryAfter: retryAfterToProto(d.retryAfterMs),
        reason: d.reason === undefined ? ProtoDenyReason.UNSPECIFIED : DENY_REASON_TO_PROTO[d.reason],
        shadowDenied: d.shadowDenied,
      });
    },

    async acquireAny(req, ctx) {
      const r = await service.acquireAny(req.circuits, withAgentInstance(callerOf(ctx), req.agentInstanceId));
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
    },

    async report(req, ctx) {
      const { request, caller } = reportCallFromProto(req, callerOf(ctx));
      return reportAckToProto(await service.report(request, caller));
    },

    async batchReport(req, ctx) {
      const caller = callerOf(ctx);
      const results = await service.batchReport(req.reports, (report, field) => reportCallFromProto(report, caller, field));
      return create(BatchReportResponseSchema, {
        results: results.map((r, i) => {
          if ("ack" in r) return create(BatchReportResultSchema, { result: { case: "response", value: reportAckToProto(r.ack) } });
          const status = toStatusProto(r.error);
          if (status.code === Code.Internal) options.onBatchReportError?.(r.error, i);
          return create(BatchReportResultSchema, { result: { case: "error", value: status } });
        }),
      });
    },

    async getState(req) {
      return create(GetStateResponseSchema, { status: statusToProto(await service.getState(req.circuit)) });
    },

    async listCircuits(req) {
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
    },

    async getHistory(req) {
      const page = await service.getHistory({ circuit: req.circuit, pageSize: req.pageSize, pageToken: req.pageToken });
      return create(GetHistoryResponseSchema, { entries: page.entries.map((e) => historyEntryToProto(e, req.circuit)), nextPageToken: page.nextPageToken });
    },

    async reset(req, ctx) {
      const caller = callerOf(ctx);
      return create(ResetResponseSchema, { status: statusToProto(await service.reset(req.circuit, caller)) });
    },

    async forceState(req, ctx) {
      const caller = callerOf(ctx);
      const view = await service.forceState(
        // `state` is deprecated in favour of `pin`, and still honoured.
        { circuit: req.circuit, pin: pinFromProto(req.pin), state: stateFromProto("state", req.state) },
        caller,
      );
      return create(ForceStateResponseSchema, { status: statusToProto(view) });
    },

    async configure(req, ctx) {
      const caller = callerOf(ctx);
      const t = req.target;
      const target =
        t.case === "circuit"
          ? { kind: "circuit" as const, circuit: t.value }
          : t.case === "pattern"
            ? { kind: "pattern" as const, pattern: t.value }
            : undefined;
      const request: ConfigureRequest = { target, patch: patchFromProto(req.config), preset: req.preset, replace: req.replace };
      if (req.precedence !== undefined) request.precedence = req.precedence;
      if (req.updateMask !== undefined) request.updateMask = req.updateMask.paths;
      const result = await service.configure(request, caller);
      const res = create(ConfigureResponseSchema, { matchedCircuits: result.matchedCircuits });
      if (result.status !== undefined) res.status = statusToProto(result.status);
      if (result.rule !== undefined) res.rule = patternRuleToProto(result.rule);
      return res;
    },

    async listPatternRules(req) {
      const page = await service.listPatternRules(req.pageSize, req.pageToken);
      return create(ListPatternRulesResponseSchema, { rules: page.rules.map(patternRuleToProto), nextPageToken: page.nextPageToken });
    },

    async deletePatternRule(req, ctx) {
      const deleted = await service.deletePatternRule(req.pattern, callerOf(ctx));
      return create(DeletePatternRuleResponseSchema, { rule: patternRuleToProto(deleted.rule), matchedCircuits: deleted.matchedCircuits });
    },

    watch(req, ctx) {
      const stream = service.watch(
        {
          circuits: req.circuits,
          prefix: req.prefix,
          resumeToken: req.resumeToken,
          statusIntervalMs: msFromDuration("status_interval", req.statusInterval),
        },
        ctx.signal,
        callerOf(ctx),
      );
      return mapStream(stream, watchMessageToProto);
    },
  };
}
