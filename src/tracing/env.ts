/**
 * Whether to trace, from the standard OTEL_* variables, read without loading
 * any OpenTelemetry code: with tracing off the SDK is never imported and no
 * tracing layer is installed (see sdk.ts, loaded only when this says on).
 *
 * The OpenTelemetry spec's meaning, with one difference: an unset
 * OTEL_TRACES_EXPORTER means "otlp" there, here only when an OTLP endpoint
 * is set too, so that a server started with nothing configured sends nothing
 * and pays nothing.
 */
import { envText } from "../config/env-vars.js";

/** The environment as read: `process.env` or a test's object. */
export type TracingEnv = Record<string, string | undefined>;

/** The OTEL_* settings this server honours once tracing is on (documented in docs/operations.md, "Tracing"). */
export interface TracingSettings {
  /** OTEL_TRACES_SAMPLER (default parentbased_always_on). */
  sampler: "always_on" | "always_off" | "traceidratio" | "parentbased_always_on" | "parentbased_always_off" | "parentbased_traceidratio";
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers (default 1). */
  samplerRatio: number;
  /** OTEL_BSP_SCHEDULE_DELAY, ms (default 5000). */
  scheduleDelayMs: number;
  /** OTEL_BSP_EXPORT_TIMEOUT, ms (default 30000). */
  exportTimeoutMs: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE (default 2048). */
  maxQueueSize: number;
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512). */
  maxExportBatchSize: number;
}

/** What {@link tracingSettings} decided: settings when tracing is on, and what to warn about either way. */
export interface TracingDecision {
  settings: TracingSettings | undefined;
  warnings: string[];
}

const SAMPLERS: ReadonlySet<string> = new Set([
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
]);

/** A variable's text, trimmed; empty counts as unset (as the spec says, and as envText reads every variable). */
function text(env: TracingEnv, name: string): string | undefined {
  return envText.parse(env[name]);
}

/**
 * On when OTEL_SDK_DISABLED is not "true" and either OTEL_TRACES_EXPORTER
 * names "otlp", or it is unset and OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. Values the spec allows but this
 * server does not act on (other exporters and protocols, bad numbers) are
 * warnings, never a refusal to start: tracing is not worth an outage.
 */
export function tracingSettings(env: TracingEnv): TracingDecision {
  const warnings: string[] = [];
  if (text(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return { settings: undefined, warnings };
  const exporters = text(env, "OTEL_TRACES_EXPORTER")
    ?.split(",")
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== "");
  let on: boolean;
  if (exporters === undefined) {
    on = text(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined || text(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined;
  } else {
    on = exporters.includes("otlp") && !exporters.includes("none");
    const others = exporters.filter((e) => e !== "otlp" && e !== "none");
    if (others.length > 0) warnings.push(`OTEL_TRACES_EXPORTER: ${others.join(", ")} not supported, ignored (only otlp and none are)`);
  }
  if (!on) return { settings: undefined, warnings };

  const protocol = text(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? text(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/json") {
    warnings.push(`OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} not supported; spans are sent as http/json (OTLP over HTTP, JSON bodies)`);
  }
  let sampler = (text(env, "OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on") as TracingSettings["sampler"];
  if (!SAMPLERS.has(sampler)) {
    warnings.push(`OTEL_TRACES_SAMPLER: ${sampler} not supported, using parentbased_always_on`);
    sampler = "parentbased_always_on";
  }
  const number = (name: string, fallback: number, valid: (n: number) => boolean): number => {
    const raw = text(env, name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (Number.isFinite(n) && valid(n)) return n;
    warnings.push(`${name}: ${raw} is not valid, using ${fallback}`);
    return fallback;
  };
  const ratio = sampler.endsWith("traceidratio") ? number("OTEL_TRACES_SAMPLER_ARG", 1, (n) => n >= 0 && n <= 1) : 1;
  const positive = (n: number): boolean => Number.isInteger(n) && n > 0;
  const maxQueueSize = number("OTEL_BSP_MAX_QUEUE_SIZE", 2048, positive);
  return {
    settings: {
      sampler,
      samplerRatio: ratio,
      scheduleDelayMs: number("OTEL_BSP_SCHEDULE_DELAY", 5000, (n) => Number.isInteger(n) && n >= 0),
      exportTimeoutMs: number("OTEL_BSP_EXPORT_TIMEOUT", 30_000, positive),
      maxQueueSize,
      maxExportBatchSize: Math.min(number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, positive), maxQueueSize),
    },
    warnings,
  };
}
