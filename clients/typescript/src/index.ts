/** The Breakerbox TypeScript SDK. */
export { createBreakerbox } from "./client.js";
export type {
  Breakerbox,
  BreakerboxOptions,
  AcquireResult,
  AcquireAnyResult,
  ReportOptions,
  ReportResult,
  RunOptions,
  WatchOptions,
  WatchUpdate,
  WatchCircuitStatus,
  WatchSnapshot,
  WatchStatus,
  WatchTransition,
  WatchSnapshotComplete,
  WatchConfigChange,
  WatchCircuitRemoved,
  State,
  Outcome,
  ReportDisposition,
  DenyReason,
  ClientTlsOptions,
  LocalBreakerConfig,
} from "./types.js";
export { CircuitOpenError, CallTimeoutError, BreakerboxRpcError, type CircuitDenial } from "./errors.js";
export { retryAfterHintOf, parseRetryAfter, isAbortError, type Clock } from "./classify.js";
