/**
 * Follows the Redis event stream for one replica and fans it out to its
 * watchers, in stream order, each event once per watcher.
 *
 * One blocking reader (XREAD BLOCK on its own connection) serves every
 * watcher. A watcher joins at a position: it buffers live events while it
 * replays what came after its position (XRANGE) or takes its snapshot, then
 * drains the buffer past the last id it delivered, so nothing is missed or
 * repeated at the seam. A follower's position moves over every entry, its
 * own circuits' or not, so a quiet watcher's position stays fresh.
 */
import type { Cluster, Redis } from "ioredis";
import { type LoggedChange, ResumeTokenError } from "../store.js";
import { type ScriptEvent, decodeEvent, decodeHistoryEntry } from "./script-replies.js";
import { TransitionOrder } from "../transition-order.js";

/** True for a Redis stream id, "<ms>-<seq>". */
export function isStreamId(s: string): boolean {
  return /^\d{1,16}-\d{1,16}$/.test(s);
}

/**
 * Orders stream ids: negative, zero or positive like a comparator. Runs once
 * per watcher for every entry read, so it compares the decimal parts as
 * strings (the shorter number is the smaller, else the text order is the
 * numeric one) instead of parsing them.
 */
export function compareStreamIds(a: string, b: string): number {
  const ai = a.indexOf("-");
  const bi = b.indexOf("-");
  return compareDecimals(a.slice(0, ai), b.slice(0, bi)) || compareDecimals(a.slice(ai + 1), b.slice(bi + 1));
}

/** Orders two non-negative decimal integers written as text (leading zeros allowed). */
function compareDecimals(a: string, b: string): number {
  if (a.length > 1 && a[0] === "0") a = a.replace(/^0+(?=\d)/, "");
  if (b.length > 1 && b[0] === "0") b = b.replace(/^0+(?=\d)/, "");
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** A transition read from the stream, decoded once for every follower, with its stream id. */
export type StreamEvent = ScriptEvent & { eventId: string };

/** What a follower is handed: a transition, a config change or a circuit's removal (markers only move its position). */
export type FeedItem = { kind: "event"; event: StreamEvent } | LoggedChange;

interface Follower {
  position: string;
  live: boolean;
  buffer: Entry[];
  deliver: (item: FeedItem) => void;
}

type StreamEntries = [id: string, fields: string[]][];

export interface EventFeedOptions {
  /** A dedicated connection: XREAD BLOCK holds it. */
  reader: Redis | Cluster;
  /** The command connection, for the reads that must not wait behind a blocked XREAD. */
  client: Redis | Cluster;
  streamKey: string;
  /** Pause before reading again after an error (Redis down). Default 250 ms. */
  retryMs?: number;
  /**
   * How long one XREAD blocks waiting for new entries. Default 1000 ms. Must
   * stay below the reader connection's command timeout, or every idle read
   * times out client-side while Redis keeps it (and the ones sent after it)
   * queued on the connection.
   */
  blockMs?: number;
  /** Every transition read, from any replica, before followers get it. */
  onEvent?: (e: StreamEvent) => void;
  /** A circuit's settings were changed (by any replica) to this version. */
  onConfigChanged?: (circuit: string, version: number) => void;
  /** Called for each idle circuit Redis expired (an "rm" entry), before followers get it. */
  onRemoved?: (circuit: string) => void;
  /**
   * Cluster mode: pass over a transition that a later one of its circuit
   * overtook in the stream (transition-order.ts); `orderCapacity` circuits
   * are remembered (default 10 000).
   */
  ordered?: boolean;
  orderCapacity?: number;
  /**
   * Runs on the reader connection before each read (not while a read blocks):
   * the store's data-epoch check. `afterFailure`: the last read failed (Redis
   * may be back from a restart). Must not reject.
   */
  beforeRead?: (reader: Redis | Cluster, afterFailure: boolean) => Promise<void>;
}

/** Overtaken entries remembered by id, so a replay passes them over too. */
const OVERTAKEN_IDS_KEPT = 10_000;

/**
 * Stream entries are transitions (field "e": the event as JSON), config
 * changes for watchers ("cc": the circuit, then "h": the history entry
 * JSON, written where the history entry is: includes/config-history.lua),
 * removals of idle circuits ("rm": the circuit, then "cause" and "at",
 * written by lua/announce-removal.lua) or config markers (field "c": the
 * name of a circuit whose settings changed, for the replicas' settings
 * caches). An entry that does not decode (written
 * by a newer replica during a rolling upgrade, say) is passed over rather
 * than retried for ever, which would wedge the reader and every watcher
 * behind it.
 */
type Entry = { id: string } & (
  | { kind: "event"; event: StreamEvent; overtaken?: boolean }
  | { kind: "logged"; change: LoggedChange }
  | { kind: "config"; circuit: string; version: number }
  | { kind: "unreadable" }
);

function parseEntries(entries: StreamEntries): Entry[] {
  return entries.map(([id, fields]): Entry => {
    if (fields[0] === "c") return { kind: "config", circuit: fields[1] ?? "", version: Number(fields[3] ?? 0), id };
    try {
      if (fields[0] === "cc") {
        const stored = decodeHistoryEntry(fields[3] ?? "{}");
        if (stored.kind !== "config") return { kind: "unreadable", id };
        return { kind: "logged", change: { kind: "config_change", position: id, circuit: fields[1] ?? "", change: stored.change }, id };
      }
      if (fields[0] === "rm") return removalEntry(id, fields);
      const json = fields[fields.indexOf("e") + 1] ?? "{}";
      return { kind: "event", event: { ...decodeEvent(JSON.parse(json)), eventId: id }, id };
    } catch {
      return { kind: "unreadable", id };
    }
  });
}

/** An "rm" entry: ["rm", circuit, "cause", cause, "at", ms]; unreadable when its cause is one this replica does not know. */
function removalEntry(id: string, fields: string[]): Entry {
  const [, circuit, , cause, , at] = fields;
  if (circuit === undefined || cause !== "idle_evicted" || at === undefined || !/^\d{1,16}$/.test(at)) return { kind: "unreadable", id };
  return { kind: "logged", change: { kind: "circuit_removed", position: id, circuit, cause, at: Number(at) }, id };
}

/** What a follower is handed for an entry; undefined for entries that only move its position. */
function feedItemOf(entry: Entry): FeedItem | undefined {
  if (entry.kind === "event") return entry.overtaken === true ? undefined : { kind: "event", event: entry.event };
  return entry.kind === "logged" ? entry.change : undefined;
}

export class EventFeed {
  private readonly reader: Redis | Cluster;
  private readonly client: Redis | Cluster;
  private readonly key: string;
  private readonly retryMs: number;
  private readonly blockMs: number;
  private readonly followers = new Set<Follower>();
  private lastId = "0-0";
  /** When (Date.now) the reader last heard from Redis; 0 while it is not reading. */
  private heardAt = 0;
  private failing = false;
  private readonly onEvent: ((e: StreamEvent) => void) | undefined;
  private readonly onConfigChanged: ((circuit: string, version: number) => void) | undefined;
  private readonly onRemoved: ((circuit: string) => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Counts rewinds: a read sent before one is discarded (its entries are read again). */
  private rewinds = 0;
  /** Cluster mode: the newest transition read per circuit, and the ids of those passed over. */
  private readonly order: TransitionOrder | undefined;
  private readonly overtaken = new Set<string>();
  private readonly beforeRead: EventFeedOptions["beforeRead"];

  constructor(options: EventFeedOptions) {
    this.reader = options.reader;
    this.client = options.client;
    this.key = options.streamKey;
    this.retryMs = options.retryMs ?? 250;
    this.blockMs = options.blockMs ?? 1000;
    this.onEvent = options.onEvent;
    this.onConfigChanged = options.onConfigChanged;
    this.onRemoved = options.onRemoved;
    this.beforeRead = options.beforeRead;
    this.order = options.ordered === true ? new TransitionOrder(options.orderCapacity ?? 10_000) : undefined;
  }

  /**
   * True when the reader heard from Redis within `ms` (each blocking read
   * returns at least once a second), so every event written before then has
   * been handed on.
   */
  isCurrent(ms: number): boolean {
    return this.heardAt !== 0 && Date.now() - this.heardAt <= ms;
  }

  /**
   * True while the reader's last read failed (connection lost, or no answer
   * within the command timeout: a hung Redis); false again after the next
   * read that Redis answers, even with no traffic.
   */
  isFailing(): boolean {
    return this.failing;
  }

  /** Starts reading from the current end of the stream. */
  async start(): Promise<void> {
    if (this.loop !== undefined) return;
    this.lastId = await this.position();
    // Nothing after lastId exists yet: the reader is current from here.
    this.heardAt = Date.now();
    this.loop = this.run();
  }

  /** The id of the newest event in the stream ("0-0" when there is none yet). */
  async position(): Promise<string> {
    const last = (await this.client.xrevrange(this.key, "+", "-", "COUNT", 1)) as StreamEntries;
    return last[0]?.[0] ?? "0-0";
  }

  /**
   * Delivers every event and config change after `after`, then every new
   * one, until closed; position() is how far in the stream the follower has
   * been served (every entry counts, delivered or not). With `beforeLive` (a
   * snapshot), nothing is replayed: `after` is the position the snapshot was
   * taken at, and live entries wait until it is done. Without it, rejects
   * with ResumeTokenError when entries after `after` were trimmed from the
   * stream (or `after` is ahead of it).
   */
  async follow(
    after: string,
    deliver: (item: FeedItem) => void,
    retention: number,
    beforeLive?: () => Promise<void>,
  ): Promise<{ close(): void; position(): string }> {
    const follower: Follower = { position: after, live: false, buffer: [], deliver };
    this.followers.add(follower);
    const close = (): void => void this.followers.delete(follower);
    try {
      if (beforeLive !== undefined) {
        await beforeLive();
      } else {
        await this.checkRetained(after, retention);
        // Cluster mode: the replay judges its own entries in order, besides those the reader passed over.
        const order = this.order === undefined ? undefined : new TransitionOrder(Number.POSITIVE_INFINITY);
        for (;;) {
          const entries = parseEntries((await this.client.xrange(this.key, `(${follower.position}`, "+", "COUNT", 500)) as StreamEntries);
          for (const e of entries) {
            if (order !== undefined && e.kind === "event" && (this.overtaken.has(e.id) || !order.admit(e.event))) e.overtaken = true;
            this.offerTo(follower, e, true);
          }
          if (entries.length < 500) break;
        }
      }
      const buffered = follower.buffer;
      follower.buffer = [];
      follower.live = true;
      for (const e of buffered) this.offerTo(follower, e, true);
    } catch (err) {
      close();
      throw err;
    }
    return { close, position: () => follower.position };
  }

  /** Resolves once every event written before the call has been read (and handed to followers). */
  async caughtUp(): Promise<void> {
    const target = await this.position();
    while (!this.stopped && compareStreamIds(this.lastId, target) < 0) await new Promise((r) => setTimeout(r, 2));
  }

  /**
   * Redis lost its data: when the new stream's newest id is behind this
   * reader's position (Redis's clock behind the lost entries' ids), reads it
   * from its start, or its entries would be skipped until the ids catch up.
   */
  async afterDataLoss(): Promise<void> {
    if (compareStreamIds(await this.position(), this.lastId) >= 0) return;
    this.lastId = "0-0";
    this.rewinds += 1;
    this.order?.clear();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.followers.clear();
    this.reader.disconnect();
    await this.loop?.catch(() => undefined);
  }

  /**
   * Hands one entry to a follower (or buffers it while the follower is not
   * live yet). The position moves before delivery, in the same synchronous
   * step, so position() is never behind what was delivered nor ahead of an
   * entry not yet delivered.
   */
  private offerTo(f: Follower, e: Entry, replay: boolean): void {
    if (!f.live && !replay) {
      f.buffer.push(e);
      return;
    }
    if (compareStreamIds(e.id, f.position) <= 0) return;
    f.position = e.id;
    const item = feedItemOf(e);
    if (item !== undefined) f.deliver(item);
  }

  /** Marks an overtaken transition (Cluster mode), and remembers its id for replays. */
  private passOver(entry: Entry & { kind: "event" }): void {
    entry.overtaken = true;
    this.overtaken.add(entry.id);
    if (this.overtaken.size > OVERTAKEN_IDS_KEPT) this.overtaken.delete(this.overtaken.values().next().value!);
  }

  private async checkRetained(after: string, retention: number): Promise<void> {
    const info = (await this.client.call("XINFO", "STREAM", this.key).catch(() => null)) as unknown[] | null;
    const field = (name: string): unknown => (info === null ? undefined : info[info.indexOf(name) + 1]);
    const lastGenerated = (field("last-generated-id") as string | undefined) ?? "0-0";
    const maxDeleted = (field("max-deleted-entry-id") as string | undefined) ?? "0-0";
    // Trimming (MAXLEN ~) does not move max-deleted-entry-id, only XDEL does:
    // once entries were trimmed, a position before the first one kept may
    // have lost entries after it. (A position that is exactly the last
    // trimmed entry is refused too: a needless snapshot, never a silent gap.)
    const trimmed = Number(field("entries-added") ?? 0) > Number(field("length") ?? 0);
    const firstKept = (field("recorded-first-entry-id") as string | undefined) ?? lastGenerated;
    if (compareStreamIds(after, lastGenerated) > 0) {
      throw new ResumeTokenError("expired", "resume_token is ahead of the event stream (a different Redis?); watch again without resume_token for a fresh snapshot");
    }
    if (compareStreamIds(after, maxDeleted) < 0 || (trimmed && compareStreamIds(after, firstKept) < 0)) {
      throw new ResumeTokenError(
        "expired",
        `resume_token is older than the ~${retention} events kept (BREAKERBOX_EVENT_LOG_SIZE); watch again without resume_token for a fresh snapshot`,
      );
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.beforeRead?.(this.reader, this.failing);
        const rewinds = this.rewinds;
        const reply = (await this.reader.xread("COUNT", 500, "BLOCK", this.blockMs, "STREAMS", this.key, this.lastId)) as
          | [string, StreamEntries][]
          | null;
        this.heardAt = Date.now();
        this.failing = false;
        if (reply === null || rewinds !== this.rewinds) continue;
        for (const [, entries] of reply) {
          for (const entry of parseEntries(entries)) {
            this.lastId = entry.id;
            if (entry.kind === "event" && this.order !== undefined && !this.order.admit(entry.event)) this.passOver(entry);
            if (entry.kind === "config") this.onConfigChanged?.(entry.circuit, entry.version);
            else if (entry.kind === "event" && entry.overtaken !== true) this.onEvent?.(entry.event);
            else if (entry.kind === "logged" && entry.change.kind === "circuit_removed") this.onRemoved?.(entry.change.circuit);
            for (const f of this.followers) this.offerTo(f, entry, false);
          }
        }
        this.heardAt = Date.now();
      } catch {
        this.heardAt = 0;
        this.failing = true;
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, this.retryMs));
      }
    }
  }
}
