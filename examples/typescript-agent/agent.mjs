// A small agent that calls a flaky dependency through Breakerbox.
//
//   node examples/typescript-agent/agent.mjs [address] [circuit] [calls]
//
// It makes `calls` calls with breaker.run(): the dependency fails for a
// while, then heals. Start the server with a short open duration to watch
// it recover within the run (see README.md beside this file).
// Denied calls use a fallback instead of waiting on a dead dependency. A
// Watch prints every state change the service announces. It imports the
// client package @breakerbox/client: in this repository, the workspace
// package clients/typescript, built by `npm run build` (or, elsewhere,
// `npm install` it from clients/typescript or its packed tarball).
import { createBreakerbox } from "@breakerbox/client";

const address = process.argv[2] ?? "localhost:50051";
const circuit = process.argv[3] ?? "example.flaky-tool";
const calls = Number(process.argv[4] ?? 40);

const breaker = createBreakerbox({ address, defaultTimeoutMs: 1000 });

// The flaky dependency: fails on its calls 5 to 8, then works again.
let n = 0;
async function flakyTool(signal) {
  n += 1;
  if (signal.aborted) throw signal.reason;
  if (n >= 5 && n < 9) throw Object.assign(new Error(`tool failed on call ${n}`), { status: 503 });
  return `result ${n}`;
}

// Print every transition of our circuit as the service streams it.
const watcher = (async () => {
  for await (const update of breaker.watch({ circuits: [circuit] })) {
    if (update.type === "transition") console.log(`watch: ${update.from} -> ${update.to} (${update.reason})`);
  }
})();

let fallbacks = 0;
for (let i = 0; i < calls; i++) {
  try {
    const out = await breaker.run(circuit, flakyTool, {
      fallback: (err) => {
        fallbacks += 1;
        return `fallback (circuit ${err.state}, retry in ${err.retryAfterMs} ms)`;
      },
    });
    console.log(`call ${i + 1}: ${out}`);
  } catch (err) {
    console.log(`call ${i + 1}: error: ${err.message}`);
  }
  await new Promise((r) => setTimeout(r, 50));
}
console.log(`done: ${calls} calls, ${fallbacks} fallbacks`);
breaker.close();
await watcher.catch(() => undefined);
