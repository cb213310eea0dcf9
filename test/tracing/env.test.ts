/** When tracing is on, from the OTEL_* variables alone (src/tracing/env.ts). */
import { describe, expect, it } from "vitest";
import { tracingSettings } from "../../src/tracing/env.js";

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };

describe("tracingSettings", () => {
  it("is off with no OTEL_* variable", () => {
    expect(tracingSettings({})).toEqual({ settings: undefined, warnings: [] });
  });

  it.each([
    ["an OTLP endpoint", ENDPOINT],
    ["a traces endpoint", { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }],
    ["OTEL_TRACES_EXPORTER=otlp", { OTEL_TRACES_EXPORTER: "otlp" }],
    ["otlp among others", { OTEL_TRACES_EXPORTER: " console , OTLP" }],
  ])("is on with %s", (_what, env) => {
    expect(tracingSettings(env).settings).toBeDefined();
  });

  it.each([
    ["OTEL_SDK_DISABLED=true", { ...ENDPOINT, OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "TRUE" }],
    ["OTEL_TRACES_EXPORTER=none", { ...ENDPOINT, OTEL_TRACES_EXPORTER: "none" }],
    ["another exporter only", { ...ENDPOINT, OTEL_TRACES_EXPORTER: "zipkin" }],
    ["a blank endpoint", { OTEL_EXPORTER_OTLP_ENDPOINT: "  " }],
  ])("is off with %s", (_what, env) => {
    expect(tracingSettings(env).settings).toBeUndefined();
  });

  it("keeps tracing on when OTEL_SDK_DISABLED is anything but true", () => {
    expect(tracingSettings({ ...ENDPOINT, OTEL_SDK_DISABLED: "false" }).settings).toBeDefined();
  });

  it("has the spec's defaults", () => {
    expect(tracingSettings(ENDPOINT)).toEqual({
      settings: {
        sampler: "parentbased_always_on",
        samplerRatio: 1,
        scheduleDelayMs: 5000,
        exportTimeoutMs: 30_000,
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
      },
      warnings: [],
    });
  });

  it("reads the sampler and the batch processor's variables", () => {
    const env = {
      ...ENDPOINT,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_BSP_SCHEDULE_DELAY: "20",
      OTEL_BSP_EXPORT_TIMEOUT: "1000",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "500",
    };
    expect(tracingSettings(env).settings).toEqual({
      sampler: "parentbased_traceidratio",
      samplerRatio: 0.25,
      scheduleDelayMs: 20,
      exportTimeoutMs: 1000,
      maxQueueSize: 100,
      maxExportBatchSize: 100, // never above the queue
    });
  });

  it("warns about values it cannot honour, and keeps going", () => {
    const { settings, warnings } = tracingSettings({
      ...ENDPOINT,
      OTEL_TRACES_EXPORTER: "otlp,jaeger",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_TRACES_SAMPLER: "xray",
      OTEL_BSP_SCHEDULE_DELAY: "soon",
    });
    expect(settings).toMatchObject({ sampler: "parentbased_always_on", scheduleDelayMs: 5000 });
    expect(warnings).toEqual([
      "OTEL_TRACES_EXPORTER: jaeger not supported, ignored (only otlp and none are)",
      "OTEL_EXPORTER_OTLP_PROTOCOL: grpc not supported; spans are sent as http/json (OTLP over HTTP, JSON bodies)",
      "OTEL_TRACES_SAMPLER: xray not supported, using parentbased_always_on",
      "OTEL_BSP_SCHEDULE_DELAY: soon is not valid, using 5000",
    ]);
  });

  it("the traces protocol wins over the general one", () => {
    const env = { ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" };
    expect(tracingSettings(env).warnings).toEqual([]);
  });
});
