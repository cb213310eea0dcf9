/**
 * The shared Watch status rounds (service/status-poller.ts) as counters,
 * read at scrape from the replica's poller and the store's change feed:
 * whether rounds read only what changed (changed names) or fell back to
 * reading every circuit (full reads), and why (the memory store's record
 * overflowing statusFeedMaxNames is worth an operator's look).
 */
import { Counter, type Registry } from "prom-client";

/** What the counters read at each scrape; set once the service exists (trackStatusRounds). */
export interface StatusRoundsSource {
  /** Rounds the replica's poller ran. */
  rounds: number;
  /** Rounds in which the store could not tell what changed, so every status stream read all it matches. */
  feedFallbacks: number;
  /** Changed circuit names the store's change feed returned. */
  changedRead: number;
  /** Times the store's record of changes overflowed (memory store; 0 on Redis, whose record has no count bound). */
  feedOverflows: number;
}

function counter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read() ?? 0);
    },
  });
}

/** Registers the four counters; they read `source()` at each scrape (0 until it is set). */
export function registerStatusRoundCounters(registry: Registry, source: () => StatusRoundsSource | undefined): void {
  counter(registry, "breakerbox_watch_status_rounds_total",
    "Watch status rounds this replica ran: one per tick shared by every stream that asked for status_interval, whatever their number.",
    () => source()?.rounds);
  counter(registry, "breakerbox_watch_status_full_reads_total",
    "Status rounds that read every watched circuit because the store could not tell what changed (first round, pattern rule change, Redis Cluster, an overflowed record); the others read only the changed circuits.",
    () => source()?.feedFallbacks);
  counter(registry, "breakerbox_watch_status_changed_total",
    "Changed circuit names the store's change feed gave the status rounds (each read once per round for every stream).",
    () => source()?.changedRead);
  counter(registry, "breakerbox_status_feed_overflows_total",
    "Times the memory store's record of changed circuits overflowed its bound and forgot its older half (the next status round read every circuit); 0 on Redis.",
    () => source()?.feedOverflows);
}
