/**
 * `@breakerbox/client/ai-sdk`: a language-model middleware for the Vercel AI
 * SDK (`ai` 7, LanguageModelV4) that guards every model call with a circuit:
 *
 *   const model = wrapLanguageModel({ model: openai("gpt-4o"), middleware: breakerboxMiddleware(bb) });
 *
 * Only types come from `@ai-sdk/provider` (an optional peer, as `ai` is), so
 * this module loads without them and the package's main entry never does.
 *
 * Both calls go through `bb.run`, so they get what `run` gives (local fail
 * fast, degraded mode, timeouts, one report per permit). A streamed call is
 * reported when its stream ends, not when it starts: `run`'s guarded function
 * stays pending until then (ai-sdk-stream.ts watches the stream).
 */
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4Middleware,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
} from "@ai-sdk/provider";
import type { Breakerbox, CircuitOpenError, RunOptions } from "./index.js";
import { classifyModelError, type ModelErrorVerdict } from "./ai-sdk-errors.js";
import { watchStream, type StreamEnd } from "./ai-sdk-stream.js";

export { classifyModelError, retryHintOfHeaders, type ModelErrorVerdict } from "./ai-sdk-errors.js";
export { parseResetIn } from "./classify.js";

/** Options of `breakerboxMiddleware`. */
export interface BreakerboxMiddlewareOptions {
  /**
   * The circuit guarding the model: a name, or a function of the wrapped
   * model. Default `llm.<provider>.<modelId>` (e.g. `llm.openai.chat.gpt-4o`),
   * with characters a circuit name cannot have replaced by "-".
   */
  circuit?: string | ((model: LanguageModelV4) => string);
  /**
   * Called instead of the model while its circuit denies the call (OPEN,
   * HALF_OPEN with no probe slot, or failClosed degraded mode): this model's
   * `doGenerate`/`doStream` answers with the same parameters. Its calls are
   * not guarded by this middleware (wrap it in its own to guard them).
   * Without it, a denied call throws the client's `CircuitOpenError`.
   * A model of an older specification (LanguageModelV3) can be passed as
   * `wrapLanguageModel({ model, middleware: [] })`.
   */
  fallback?: LanguageModelV4;
  /**
   * Overrides the classification of a model call's error (default
   * `classifyModelError`: 429 and 5xx FAILURE with the provider's retry
   * hint, other 4xx IGNORED, aborts IGNORED, anything else FAILURE).
   */
  classify?: (err: unknown, nowMs: number) => ModelErrorVerdict;
  /**
   * Timeout of one guarded call in ms, reported as TIMEOUT (the call's
   * abort signal is aborted; `CallTimeoutError` is thrown, or errors the
   * stream). For a streamed call it covers the whole stream, to its last
   * part. Default: the client's `defaultTimeoutMs`; 0 for none.
   */
  timeoutMs?: number;
}

/** The circuit name for a model: `llm.<provider>.<modelId>`, made a valid circuit name. */
export function defaultCircuitName(model: { provider: string; modelId: string }): string {
  return `llm.${model.provider}.${model.modelId}`.replace(/[^A-Za-z0-9._:/@-]/g, "-").slice(0, 200);
}

/**
 * What `run` sees of a model call's error: a value carrying its verdict, so
 * that `isFailure` and the retry hint (`retryAfterMs`, which `run` reads off
 * the error) come from the AI SDK's classification; unwrapped before the
 * caller sees it.
 */
class Judged {
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly error: unknown,
    readonly failure: boolean,
    retryAfterMs: number | undefined,
  ) {
    this.retryAfterMs = retryAfterMs;
  }
}

const unwrap = (err: unknown): unknown => (err instanceof Judged ? err.error : err);

/** The caller's abort signal joined with `run`'s (aborted on timeout). */
function withSignal(params: LanguageModelV4CallOptions, signal: AbortSignal): LanguageModelV4CallOptions {
  return { ...params, abortSignal: params.abortSignal === undefined ? signal : AbortSignal.any([params.abortSignal, signal]) };
}

/**
 * A middleware for `wrapLanguageModel` guarding the model with a Breakerbox
 * circuit. Each `doGenerate` is Acquire, the call, Report; each `doStream`
 * is Acquire, the call, and Report once the stream ended: SUCCESS when read
 * to its end, FAILURE when it carried an error part or broke (classified
 * like a thrown error), IGNORED when its reader cancelled it. While the
 * circuit denies, `fallback` answers, or `CircuitOpenError` is thrown.
 */
export function breakerboxMiddleware(bb: Breakerbox, options: BreakerboxMiddlewareOptions = {}): LanguageModelV4Middleware {
  const classify = options.classify ?? classifyModelError;
  const circuitOf = (model: LanguageModelV4): string =>
    typeof options.circuit === "string" ? options.circuit : (options.circuit ?? defaultCircuitName)(model);
  const judge = (err: unknown): Judged => {
    const v = classify(err, Date.now());
    return new Judged(err, v.failure, v.failure ? v.retryAfterMs : undefined);
  };
  const runOptions = <T>(params: LanguageModelV4CallOptions, fallback: (err: CircuitOpenError) => Promise<T>): RunOptions<T> => ({
    isFailure: (err) => !(err instanceof Judged) || err.failure,
    fallback,
    ...(params.abortSignal !== undefined && { signal: params.abortSignal }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });

  return {
    specificationVersion: "v4",

    async wrapGenerate({ model, params }): Promise<LanguageModelV4GenerateResult> {
      const fallback = async (err: CircuitOpenError): Promise<LanguageModelV4GenerateResult> => {
        if (options.fallback === undefined) throw err;
        return options.fallback.doGenerate(params);
      };
      try {
        return await bb.run(
          circuitOf(model),
          async (signal) => {
            try {
              return await model.doGenerate(withSignal(params, signal));
            } catch (err) {
              throw judge(err);
            }
          },
          runOptions(params, fallback),
        );
      } catch (err) {
        throw unwrap(err);
      }
    },

    async wrapStream({ model, params }): Promise<LanguageModelV4StreamResult> {
      let started!: (r: LanguageModelV4StreamResult) => void;
      let failedToStart!: (err: unknown) => void;
      const start = new Promise<LanguageModelV4StreamResult>((resolve, reject) => {
        started = resolve;
        failedToStart = reject;
      });
      const fallback = async (err: CircuitOpenError): Promise<void> => {
        if (options.fallback === undefined) throw err;
        started(await options.fallback.doStream(params));
      };
      // Settles once the outcome was settled and its Report queued (or the call denied); never rejects.
      const reported: Promise<void> = bb
        .run(
          circuitOf(model),
          async (signal) => {
            let result: LanguageModelV4StreamResult;
            try {
              result = await model.doStream(withSignal(params, signal));
            } catch (err) {
              throw judge(err);
            }
            const ended = await new Promise<StreamEnd>((resolve) => {
              started({ ...result, stream: watchStream<LanguageModelV4StreamPart>(result.stream, { ended: resolve, beforeClose: () => reported, signal }) });
            });
            if (ended.kind === "error") throw judge(ended.error);
            if (ended.kind === "cancelled") throw new Judged(ended.reason, false, undefined);
          },
          runOptions(params, fallback),
        )
        // Before the stream started, its error is the caller's; after, the stream carries it (a second settle is a no-op).
        .then(undefined, (err: unknown) => failedToStart(unwrap(err)));
      return start;
    },
  };
}
