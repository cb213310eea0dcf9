/** The Breakerbox TypeScript SDK. */
export {
  createBreakerbox,
  type Breakerbox,
  type BreakerboxOptions,
  type AcquireResult,
  type AcquireAnyResult,
  type ReportOptions,
  type ReportResult,
  type RunOptions,
  type WatchOptions,
  type WatchUpdate,
  type WatchSnapshot,
  type WatchTransition,
  type WatchSnapshotComplete,
  type State,
  type Outcome,
  type DenyReason,
  type ClientTlsOptions,
} from "./client.js";
export { CircuitOpenError, CallTimeoutError, BreakerboxRpcError, type CircuitDenial } from "./errors.js";
export { retryAfterHintOf, parseRetryAfter, isAbortError, type Clock } from "./classify.js";
