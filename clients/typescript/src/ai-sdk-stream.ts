/**
 * A model's output stream passed through to its reader while watching how it
 * ends, so that a streamed call is reported when the stream is over (not when
 * it starts): its last part read, an error part seen, the stream erroring, or
 * its reader cancelling.
 */

/** How a watched stream ended. */
export type StreamEnd =
  | { kind: "done" }
  /** An `{ type: "error" }` part was passed through (the first one's error), or reading the source threw. */
  | { kind: "error"; error: unknown }
  /** The reader cancelled it before its end. */
  | { kind: "cancelled"; reason: unknown };

export interface WatchHooks {
  /** Called once, with how the stream ended. */
  ended(end: StreamEnd): void;
  /**
   * Awaited before the reader sees the end (close, error, or its own
   * cancel() resolving), so that the stream's outcome has been reported by
   * then, as a generate call's has when it returns. Must not reject.
   */
  beforeClose(): Promise<void>;
  /** Aborting it (the call timed out) errors the stream with its reason and cancels the source. */
  signal: AbortSignal;
}

/** Returns a stream with the parts of `source`, calling `hooks.ended` once when it is over. */
export function watchStream<P extends { type: string }>(source: ReadableStream<P>, hooks: WatchHooks): ReadableStream<P> {
  const reader = source.getReader();
  let over = false;
  let errorPart: { error: unknown } | undefined;
  let onAbort: (() => void) | undefined;
  const end = (e: StreamEnd): boolean => {
    if (over) return false;
    over = true;
    if (onAbort !== undefined) hooks.signal.removeEventListener("abort", onAbort);
    hooks.ended(e);
    return true;
  };
  return new ReadableStream<P>({
    start(controller) {
      onAbort = () => {
        const reason: unknown = hooks.signal.reason;
        if (!end({ kind: "error", error: reason })) return;
        reader.cancel(reason).catch(() => {});
        void hooks.beforeClose().then(() => controller.error(reason));
      };
      if (hooks.signal.aborted) onAbort();
      else hooks.signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (err) {
        if (!end({ kind: "error", error: err })) return;
        await hooks.beforeClose();
        controller.error(err);
        return;
      }
      if (over) return;
      if (r.done) {
        end(errorPart === undefined ? { kind: "done" } : { kind: "error", error: errorPart.error });
        await hooks.beforeClose();
        controller.close();
        return;
      }
      if (r.value.type === "error" && errorPart === undefined) errorPart = { error: (r.value as { error?: unknown }).error };
      controller.enqueue(r.value);
    },
    async cancel(reason) {
      const first = end({ kind: "cancelled", reason });
      await reader.cancel(reason);
      if (first) await hooks.beforeClose();
    },
  });
}
