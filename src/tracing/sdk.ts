/**
 * The OpenTelemetry SDK, set up from the OTEL_* settings (env.ts). Loaded by
 * dynamic import only when tracing is on: a server without tracing never
 * loads this module nor the SDK packages it imports.
 *
 * Spans go over OTLP/HTTP with JSON bodies (@opentelemetry/exporter-trace-otlp-http
 * reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT and
 * _COMPRESSION itself) through a batch processor; the resource reads
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (default service.name
 * "breakerbox"). The context manager is AsyncLocalStorage's, registered
 * globally, so a store call made while serving an RPC finds the RPC's span
 * as its parent across awaits.
 */
import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, envDetector, detectResources, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from "@opentelemetry/sdk-trace";
import type { TracingSettings } from "./env.js";
import { createTracingInterceptor } from "./rpc-spans.js";
import { traceStore } from "./store-spans.js";
import type { Tracing } from "./tracing.js";

/** The instrumentation scope of every span this server makes. */
const SCOPE = "breakerbox";

function samplerOf(settings: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio;
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio });
  }
}

/** Starts the SDK and registers it globally; `version` becomes service.version. */
export function startTracing(settings: TracingSettings, version: string): Tracing {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "breakerbox", "service.version": version }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over ours.
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(settings),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter(),
        scheduledDelayMillis: settings.scheduleDelayMs,
        exportTimeoutMillis: settings.exportTimeoutMs,
        maxQueueSize: settings.maxQueueSize,
        maxExportBatchSize: settings.maxExportBatchSize,
      }),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  const propagator = new W3CTraceContextPropagator();
  propagation.setGlobalPropagator(propagator);
  const tracer: Tracer = provider.getTracer(SCOPE, version);

  let stopping: Promise<void> | undefined;
  return {
    interceptor: createTracingInterceptor(tracer, propagator),
    traceStore: (store, kind) => traceStore(store, tracer, kind),
    shutdown() {
      stopping ??= provider.shutdown().finally(() => {
        contextManager.disable();
        trace.disable();
        context.disable();
        propagation.disable();
      });
      return stopping;
    },
  };
}
