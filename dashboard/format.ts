/** Display helpers: numbers, rates, durations and times as operators read them. */
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { State, type CircuitEvent, type Principal } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";

/** The engine's state names, as data attributes and CSS classes use them. */
export type StateName = "CLOSED" | "OPEN" | "HALF_OPEN" | "FORCED_OPEN" | "DISABLED" | "UNKNOWN";

export function stateName(s: State): StateName {
  switch (s) {
    case State.CLOSED:
      return "CLOSED";
    case State.OPEN:
      return "OPEN";
    case State.HALF_OPEN:
      return "HALF_OPEN";
    case State.FORCED_OPEN:
      return "FORCED_OPEN";
    case State.DISABLED:
      return "DISABLED";
    default:
      return "UNKNOWN";
  }
}

/** The label a person reads for a state. */
export function stateLabel(s: StateName): string {
  return s === "HALF_OPEN" ? "HALF-OPEN" : s === "FORCED_OPEN" ? "FORCED OPEN" : s;
}

export function ms(d: Duration | Timestamp | undefined): number | undefined {
  if (d === undefined) return undefined;
  return Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

/** 0.4 → "40%", 0.05 → "5.0%", 0 → "0%". */
export function percent(rate: number): string {
  if (rate === 0) return "0%";
  const p = rate * 100;
  return `${p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

/** A counter (uint64 arrives as bigint) with thousands separators. */
export function count(n: bigint | number): string {
  return Number(n).toLocaleString("en-US");
}

/** A duration as "750ms", "45s", "2m 5s", "1h 30m". */
export function duration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)}ms`;
  const s = Math.round(msValue / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}

/** A countdown as "0:42", "12:05", "1:00:00" (never negative). */
export function countdown(msValue: number): string {
  const s = Math.max(0, Math.ceil(msValue / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A point in time as local "HH:MM:SS", with the date when it is not today. */
export function clockTime(at: number): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString("en-GB", { hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toISOString().slice(0, 10)} ${time}`;
}

/** A principal as "key/instance", or the key alone when it declared no instance ("(unnamed)" for neither). */
export function principalLabel(p: Pick<Principal, "keyName" | "agentInstanceId">): string {
  if (p.agentInstanceId === "") return p.keyName === "" ? "(unnamed)" : p.keyName;
  return `${p.keyName}/${p.agentInstanceId}`;
}

/**
 * The "Who" of a transition in the history: its principal (the reporter
 * whose Report drove it, or the admin), then, for an OPEN transition a
 * Report drove, every reporter whose failures counted ("failures from a,
 * b"), so an operator sees at once whether one agent or many saw them.
 * A transition with neither principal nor actor (time, or recorded before
 * principals were kept) reads "traffic or time".
 */
export function transitionWho(t: Pick<CircuitEvent, "actor" | "principal" | "failureReporters">): string {
  const by = t.principal !== undefined ? principalLabel(t.principal) : t.actor !== "" ? t.actor : "traffic or time";
  if (t.failureReporters.length === 0) return by;
  return `${by}; failures from ${t.failureReporters.map(principalLabel).join(", ")}`;
}
