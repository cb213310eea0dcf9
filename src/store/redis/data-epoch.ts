/**
 * Tells a replica that Redis lost its data (a restart without persistence,
 * a FLUSHALL, a failover to an empty node), so it drops what it derived from
 * data Redis no longer holds.
 *
 * The epoch is a random id in the rules hash (lua/data-epoch.lua: HSETNX,
 * never expires): the first replica to ask stores it, and every replica
 * reads it at start and again every `checkMs` (default 1 s) and whenever it
 * sees a version go backwards (checkSoon). An id other than the one this
 * replica knows, or one it had to store itself, means the data is gone:
 * `onLost` runs (once per loss, before the check resolves) and the loss is
 * counted. Because the id lives with the rules, losing the rules always
 * changes it; in Cluster mode a node that loses only other slots is not seen
 * here (circuits' keys recover by themselves: see local-views.ts).
 */
import { randomBytes } from "node:crypto";
import type { ScriptClient } from "./script-client.js";

/** How often a replica reads the epoch. */
export const EPOCH_CHECK_MS = 1000;
/** A check asked for by checkSoon() runs at most this often. */
const SOON_MIN_GAP_MS = 100;

export interface DataEpochOptions {
  scripts: ScriptClient;
  /** Drops what Redis no longer holds and reloads what it does; a rejection is retried at the next check. */
  onLost: () => Promise<void>;
  checkMs?: number;
}

export interface DataEpoch {
  /** Reads (or stores) the epoch and starts the periodic check. */
  start(): Promise<void>;
  /** Reads the epoch now (one at a time: concurrent calls share it); true when Redis lost its data. */
  check(): Promise<boolean>;
  /** A version went backwards: check soon, at most once per 100 ms. Never rejects. */
  checkSoon(): void;
  /** How many losses this replica has seen. */
  readonly losses: number;
  close(): void;
}

export function createDataEpoch(options: DataEpochOptions): DataEpoch {
  const { scripts, onLost } = options;
  const checkMs = options.checkMs ?? EPOCH_CHECK_MS;
  let known: string | undefined;
  /** A loss seen whose onLost has not completed yet (it is retried). */
  let pendingLoss = false;
  let losses = 0;
  let running: Promise<boolean> | undefined;
  let lastSoon = 0;
  let timer: NodeJS.Timeout | undefined;

  const checkOnce = async (): Promise<boolean> => {
    const candidate = randomBytes(12).toString("base64url");
    const stored = await scripts.dataEpoch(candidate);
    // Our own candidate stored: the id we knew is gone with the data.
    const lost = known !== undefined && (stored !== known || stored === candidate);
    known = stored;
    if (lost) {
      losses += 1;
      pendingLoss = true;
    }
    if (!pendingLoss) return false;
    await onLost();
    pendingLoss = false;
    return true;
  };

  const check = (): Promise<boolean> => {
    running ??= checkOnce().finally(() => (running = undefined));
    return running;
  };

  return {
    async start() {
      if (known === undefined) await check();
      if (timer === undefined) {
        timer = setInterval(() => void check().catch(() => undefined), checkMs);
        timer.unref();
      }
    },
    check,
    checkSoon() {
      const now = Date.now();
      if (running !== undefined || now - lastSoon < SOON_MIN_GAP_MS) return;
      lastSoon = now;
      void check().catch(() => undefined);
    },
    get losses() {
      return losses;
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
