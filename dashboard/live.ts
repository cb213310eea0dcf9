/**
 * The live feed: one Watch stream over Connect for every circuit, with
 * status messages every second (so tiles show counters between transitions
 * without the page polling), reconnecting with backoff and a fresh snapshot
 * whenever the stream ends. When access control refuses the stream, it asks
 * for a key and waits until one is given.
 */
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { CircuitStatus } from "../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { api, describeError, keyProblem, onKeyChange } from "./api.js";
import { ms } from "./format.js";
import { askForKey, keyReason } from "./key-dialog.js";
import type { Model } from "./model.js";

/** What the connection is doing, for the header. */
export type Connection =
  | { kind: "connecting" }
  | { kind: "live" }
  | { kind: "retrying"; inMs: number; error: string }
  | { kind: "needs-key"; error: string };

const STATUS_INTERVAL_MS = 1000;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

/** Runs the feed until the page goes away, reporting the connection through `onConnection`. */
export async function runLiveFeed(model: Model, onConnection: (c: Connection) => void): Promise<never> {
  let keyChanged: () => void = () => {};
  onKeyChange(() => keyChanged());
  let attempt = 0;
  for (;;) {
    onConnection({ kind: "connecting" });
    const controller = new AbortController();
    // A new key restarts the stream, so it is read with the key's rights.
    keyChanged = () => controller.abort();
    let error: unknown;
    try {
      const snapshot: CircuitStatus[] = [];
      for await (const m of api.watch({ statusInterval: durationFromMs(STATUS_INTERVAL_MS) }, { signal: controller.signal })) {
        switch (m.kind.case) {
          case "snapshot":
            snapshot.push(m.kind.value);
            break;
          case "snapshotComplete":
            model.replace(snapshot);
            attempt = 0;
            onConnection({ kind: "live" });
            break;
          case "status":
            model.status(m.kind.value);
            break;
          case "event":
            model.event(m.kind.value);
            break;
          case "heartbeat":
            model.heartbeat(ms(m.kind.value.at));
            break;
          // The next status message carries the new config; the detail
          // panel's history lists the change itself.
          case "configChange":
          // An idle CLOSED circuit evicted (memory store): its tile keeps its
          // last status until the next snapshot; it is re-created on next use.
          case "circuitRemoved":
          // Kinds this page does not know yet (the API may add some): skipped.
          default:
            break;
        }
      }
    } catch (err) {
      error = err;
    }
    if (controller.signal.aborted) continue; // the key changed: reconnect at once
    const problem = error === undefined ? undefined : keyProblem(error);
    if (problem !== undefined) {
      const text = describeError(error);
      onConnection({ kind: "needs-key", error: text });
      const given = await askForKey(keyReason(problem, "watch the circuits", text));
      // Cancelled: wait until a key is entered some other way (the header's button).
      if (!given) await new Promise<void>((resolve) => (keyChanged = resolve));
      continue;
    }
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
    attempt += 1;
    onConnection({ kind: "retrying", inMs: delay, error: error === undefined ? "the stream ended" : describeError(error) });
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
