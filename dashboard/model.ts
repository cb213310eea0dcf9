/**
 * What the page knows: one entry per circuit, kept current from the Watch
 * stream (snapshot, transition events, status messages) and from the answers
 * of admin actions, plus the failure-rate samples for the sparklines, the
 * number of circuits in each state (kept as entries change, so the counts
 * cost nothing per frame at fleet size) and the offset between the
 * browser's clock and the store's. Every update is O(1); nothing here
 * touches the DOM.
 */
import type { CircuitEvent, CircuitStats, CircuitStatus } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ms, stateName, type StateName } from "./format.js";

/** One received failure rate, at the browser time it arrived (the sparkline's points). */
export interface Sample {
  at: number;
  rate: number;
}

/** Samples kept per circuit (status messages arrive at most once a second). */
const MAX_SAMPLES = 600;

export interface CircuitEntry {
  name: string;
  state: StateName;
  /** The latest full status (config included); undefined until one arrived. */
  status?: CircuitStatus;
  stats?: CircuitStats;
  generation: bigint;
  /** Store time it entered its state. */
  since?: number;
  /** Store time it will let probes through (OPEN only). */
  openUntil?: number;
  samples: Sample[];
}

/** `stateChanged`: its state differs from before this change (a new circuit comes from UNKNOWN). */
export type Change = { kind: "reset" } | { kind: "circuit"; name: string; stateChanged: boolean; transition?: CircuitEvent };

export class Model {
  readonly circuits = new Map<string, CircuitEntry>();
  /** Circuits per state, over every circuit (states with none may be absent). */
  readonly counts = new Map<StateName, number>();
  private readonly listeners = new Set<(change: Change) => void>();
  /**
   * Store clock minus browser clock, in ms. Learnt from live events (their
   * `at` is the store's time, and they arrive within milliseconds); until
   * one arrives, from heartbeats (the server's own clock); else 0.
   */
  private offset = 0;
  private offsetFromEvent = false;

  onChange(listener: (change: Change) => void): void {
    this.listeners.add(listener);
  }

  /** The store's time now, as best known: what countdowns count against. */
  storeNow(): number {
    return Date.now() + this.offset;
  }

  /** Replaces everything with a new snapshot (after every (re)connect); samples survive. */
  replace(statuses: readonly CircuitStatus[]): void {
    const old = this.circuits;
    const next = new Map<string, CircuitEntry>();
    for (const s of statuses) {
      const entry: CircuitEntry = { name: s.circuit, state: "UNKNOWN", generation: -1n, samples: old.get(s.circuit)?.samples ?? [] };
      next.set(s.circuit, entry);
      applyStatus(entry, s);
    }
    this.circuits.clear();
    this.counts.clear();
    for (const [k, v] of next) {
      this.circuits.set(k, v);
      this.counts.set(v.state, (this.counts.get(v.state) ?? 0) + 1);
    }
    this.emit({ kind: "reset" });
  }

  /** A status (status message, or an admin action's answer). Older generations than known are dropped. */
  status(s: CircuitStatus): void {
    let entry = this.circuits.get(s.circuit);
    if (entry === undefined) {
      entry = this.add(s.circuit);
    } else if (s.generation < entry.generation) {
      return;
    }
    const before = entry.state;
    applyStatus(entry, s);
    this.emit({ kind: "circuit", name: s.circuit, stateChanged: this.recount(before, entry.state) });
  }

  /** A live transition. */
  event(e: CircuitEvent): void {
    const at = ms(e.at);
    if (at !== undefined) {
      this.offset = at - Date.now();
      this.offsetFromEvent = true;
    }
    let entry = this.circuits.get(e.circuit);
    if (entry === undefined) entry = this.add(e.circuit);
    const before = entry.state;
    if (e.generation >= entry.generation) {
      entry.state = stateName(e.toState);
      entry.generation = e.generation;
      if (e.stats !== undefined) entry.stats = e.stats;
      entry.since = at;
      entry.openUntil = ms(e.openUntil);
      if (e.stats !== undefined) addSample(entry, e.stats.failureRate);
    }
    this.emit({ kind: "circuit", name: e.circuit, stateChanged: this.recount(before, entry.state), transition: e });
  }

  /** A heartbeat's server time: a clock reference until an event gives a better one. */
  heartbeat(at: number | undefined): void {
    if (at !== undefined && !this.offsetFromEvent) this.offset = at - Date.now();
  }

  /** A circuit first heard of after the snapshot (UNKNOWN until applied). */
  private add(name: string): CircuitEntry {
    const entry: CircuitEntry = { name, state: "UNKNOWN", generation: -1n, samples: [] };
    this.circuits.set(name, entry);
    this.counts.set("UNKNOWN", (this.counts.get("UNKNOWN") ?? 0) + 1);
    return entry;
  }

  /** Moves one circuit between the counts; true when its state changed (a new circuit moves from UNKNOWN). */
  private recount(before: StateName, after: StateName): boolean {
    if (before === after) return false;
    this.counts.set(before, (this.counts.get(before) ?? 1) - 1);
    this.counts.set(after, (this.counts.get(after) ?? 0) + 1);
    return true;
  }

  private emit(change: Change): void {
    for (const l of this.listeners) l(change);
  }
}

function applyStatus(entry: CircuitEntry, s: CircuitStatus): void {
  entry.status = s;
  entry.state = stateName(s.state);
  entry.generation = s.generation;
  if (s.stats !== undefined) entry.stats = s.stats;
  entry.since = ms(s.since);
  entry.openUntil = ms(s.openUntil);
  if (s.stats !== undefined) addSample(entry, s.stats.failureRate);
}

function addSample(entry: CircuitEntry, rate: number): void {
  // The sparkline holds each rate until the next sample, so a repeat adds
  // nothing to it: skipping repeats keeps a large fleet's memory to changes.
  if (entry.samples.at(-1)?.rate === rate) return;
  entry.samples.push({ at: Date.now(), rate });
  if (entry.samples.length > MAX_SAMPLES) entry.samples.splice(0, entry.samples.length - MAX_SAMPLES);
}
