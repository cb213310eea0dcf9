/**
 * Tells a replica that Redis lost its data (a restart without persistence,
 * a FLUSHALL, a failover to an empty node), so it drops what it derived from
 * data Redis no longer holds.
 *
 * The epoch is a random id in the rules hash (lua/data-epoch.lua: HSETNX,
 * never expires): the first replica to ask stores it. Every replica reads it
 * at start; then its event reader reads it between two stream reads
 * (whenDue: at least EPOCH_CHECK_MS apart, and always on the first read after
 * a failed one, i.e. as soon as Redis answers again after a restart; a read
 * blocks at most 1 s, so checks are at most EPOCH_CHECK_MS + 1 s apart); and
 * a replica that sees a version go backwards checks at once. An id other than
 * the one this replica knows, or one it had to store itself, means the data
 * is gone: `onLost` runs (once per loss, retried at the next check until it
 * succeeds, before the check resolves) and the loss is counted. Because the
 * id lives with the rules, losing the rules always changes it; in Cluster
 * mode a node that loses only other slots is not seen here (circuits' keys
 * recover by themselves: see local-views.ts).
 */
import { randomBytes } from "node:crypto";

/** The least time between two checks the event reader makes. */
export const EPOCH_CHECK_MS = 500;

/** Reads the stored epoch, storing `candidate` when there is none (lua/data-epoch.lua on some connection). */
export type ReadEpoch = (candidate: string) => Promise<string>;

export interface DataEpochOptions {
  /** On the command connection: start() and check(). */
  read: ReadEpoch;
  /** Drops what Redis no longer holds and reloads what it does; a rejection is retried at the next check. */
  onLost: () => Promise<void>;
}

export interface DataEpoch {
  /** Reads (or stores) the epoch. */
  start(): Promise<void>;
  /**
   * Reads the epoch now, through `read` (default: the command connection).
   * One at a time: concurrent calls share one. Resolves true when Redis lost
   * its data (after onLost completed).
   */
  check(read?: ReadEpoch): Promise<boolean>;
  /** For the event reader between two reads: checks through `read` when due (see above). Never rejects. */
  whenDue(read: ReadEpoch, afterFailure: boolean): Promise<void>;
  /** How many losses this replica has seen and handled (onLost completed). */
  readonly losses: number;
}

export function createDataEpoch(options: DataEpochOptions): DataEpoch {
  const { onLost } = options;
  let known: string | undefined;
  /** A loss seen whose onLost has not completed yet. */
  let pendingLoss = false;
  let losses = 0;
  let running: Promise<boolean> | undefined;
  let lastCheck = 0;

  const checkOnce = async (read: ReadEpoch): Promise<boolean> => {
    lastCheck = Date.now();
    const candidate = randomBytes(12).toString("base64url");
    const stored = await read(candidate);
    // Our own candidate stored: the id we knew went with the data.
    const lost = known !== undefined && (stored !== known || stored === candidate);
    known = stored;
    if (lost) pendingLoss = true;
    if (!pendingLoss) return false;
    await onLost();
    pendingLoss = false;
    losses += 1;
    return true;
  };

  const check = (read: ReadEpoch = options.read): Promise<boolean> => {
    running ??= checkOnce(read).finally(() => (running = undefined));
    return running;
  };

  return {
    async start() {
      if (known === undefined) await check();
    },
    check,
    async whenDue(read, afterFailure) {
      if (known === undefined || (!afterFailure && !pendingLoss && Date.now() - lastCheck < EPOCH_CHECK_MS)) return;
      await check(read).catch(() => undefined);
    },
    get losses() {
      return losses;
    },
  };
}
