// Preloaded with NODE_OPTIONS=--import=<this file> by test/e2e/tracing.test.ts:
// writes one stderr line per OpenTelemetry module and per module of the
// server's src/tracing the process loads, so a test can tell which a server
// with tracing off loads.
import { registerHooks } from "node:module";

registerHooks({
  load(url, context, nextLoad) {
    if (url.includes("/@opentelemetry/") || url.includes("/dist/src/tracing/")) process.stderr.write(`module loaded: ${url}\n`);
    return nextLoad(url, context);
  },
});
