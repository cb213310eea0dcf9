// The benchmark's server: Breakerbox as main.ts runs it (the store its
// environment selects: memory by default, Redis with REDIS_URL; both
// listeners), silent, plus breakerbox.bench.v1.Noop on the same grpc-js
// server through grpc.addService (same adapter, same decode of an
// AcquireRequest body): the no-op ceiling the bench compares against.
//
// Run by bench/run.mjs after `npm run build`; runs alone too:
//   node bench/server.mjs            # prints {"grpcPort":…} once listening
// Environment: the usual Breakerbox variables (loadConfig); the gRPC and
// HTTP ports default to 0 (free ports) and LOG_LEVEL to silent here. The
// store comes from loadConfig as in main.ts: REDIS_URL (or REDIS_SENTINELS /
// REDIS_CLUSTER_NODES) selects the Redis store, nothing the memory store.
// bench/run.mjs passes REDIS_URL with --store redis and drops the REDIS_*
// variables otherwise.
// Stops on SIGTERM/SIGINT or when stdin closes (the parent is gone), and
// exits normally then, so `node --cpu-prof` writes its profile.
import { startBreakerbox } from "../dist/src/app.js";
import { loadConfig } from "../dist/src/config/index.js";
import { createLogger } from "../dist/src/logger.js";
import { NoopService, noopImpl } from "./noop-service.mjs";

const env = {
  ...process.env,
  BREAKERBOX_GRPC_PORT: process.env.BREAKERBOX_GRPC_PORT ?? "0",
  BREAKERBOX_HTTP_PORT: process.env.BREAKERBOX_HTTP_PORT ?? "0",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
};
const config = loadConfig(env);
const logger = createLogger(config.logLevel);
const app = await startBreakerbox(config, { logger });
// Without the server's interceptors: the no-op is the bare stack's ceiling,
// and Acquire pays its access check, error boundary and RPC timing on top of
// it, as it did when those ran inside its handler. (With them it would also
// stop the start: Noop declares no access, see src/server/method-access.ts.)
app.grpc.addService(NoopService, noopImpl, { interceptors: [] });

process.stdout.write(
  `${JSON.stringify({ ready: true, pid: process.pid, host: config.host, grpcPort: app.grpcPort, httpPort: app.httpPort, store: config.store.kind })}\n`,
);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  app.stop().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`bench server: stop failed: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// A parent that dies without signalling closes our stdin: do not linger.
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
