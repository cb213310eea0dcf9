// What the TypeScript client adds to a call, against a live Breakerbox:
//
//   node bench/client-overhead/typescript.mjs <host:port>     (Node 24; npm run build first)
//
// Sequential calls on loopback, each timed on its own (process.hrtime):
//   direct_us        calling the function itself (an async function returning a value)
//   guarded_us       bb.run(circuit, fn): Acquire RPC, call, classify, queue the Report
//                    (the Report is sent in the background with BatchReport, off this path)
//   acquire_rtt_us   the raw Acquire RPC round trip (the SDK's acquire(), on another circuit)
//   open_guarded_us  bb.run on a circuit known OPEN after a denial: the local fail-fast
//                    denial, answered by the fallback, with no RPC
// Prints ONE JSON line. The difference guarded - direct is the client's overhead;
// acquire_rtt shows how much of it is the round trip.
import { createBreakerbox, CircuitOpenError } from "@breakerbox/client";

const address = process.argv[2];
if (address === undefined) {
  console.error("usage: node bench/client-overhead/typescript.mjs <host:port>");
  process.exit(2);
}
const CALLS = Number(process.env.CALLS ?? 5000);
const WARMUP = Math.min(1000, CALLS);
const suffix = `${process.pid}.${Date.now()}`;

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))];
  const round = (ns) => Math.round(ns / 100) / 10; // µs, one decimal
  return { p50: round(at(0.5)), p99: round(at(0.99)) };
}

/** Warms `once` up, then times CALLS sequential calls of it. */
async function measure(once) {
  for (let i = 0; i < WARMUP; i++) await once(i);
  const samples = new Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const t = process.hrtime.bigint();
    await once(i);
    samples[i] = Number(process.hrtime.bigint() - t);
  }
  return summary(samples);
}

/**
 * Times `a` and `b` in alternating blocks after warming both up, pooling
 * each one's samples: both see the same background load and JIT state,
 * which measuring one after the other did not give on a busy 2-core machine.
 */
async function measurePair(a, b, blocks = 10) {
  for (let i = 0; i < WARMUP; i++) {
    await a(i);
    await b(i);
  }
  const per = Math.ceil(CALLS / blocks);
  const sa = [];
  const sb = [];
  for (let block = 0; block < blocks; block++) {
    for (const [once, into] of [
      [a, sa],
      [b, sb],
    ]) {
      for (let i = 0; i < per; i++) {
        const t = process.hrtime.bigint();
        await once(i);
        into.push(Number(process.hrtime.bigint() - t));
      }
    }
  }
  return [summary(sa), summary(sb)];
}

const bb = createBreakerbox({ address, agentInstanceId: `bench-${process.pid}` });
const fn = async () => 42;

try {
  const direct = await measure(() => fn());

  const guardedCircuit = `bench.guarded.${suffix}`;
  const acquireCircuit = `bench.acquire.${suffix}`;
  const [guarded, acquireRtt] = await measurePair(
    () => bb.run(guardedCircuit, fn),
    async () => {
      const a = await bb.acquire(acquireCircuit);
      if (!a.allowed) throw new Error(`acquire denied: ${a.reason}`);
    },
  );
  if (!(await bb.flush(30_000))) throw new Error("the guarded calls' Reports were not delivered");

  const openCircuit = `bench.open.${suffix}`;
  let denial;
  for (let i = 0; i < 200 && denial === undefined; i++) {
    try {
      await bb.run(openCircuit, () => Promise.reject(new Error("bench: failing dependency")));
    } catch (err) {
      if (CircuitOpenError.is(err)) denial = err;
    }
    await bb.flush(10_000);
  }
  if (denial === undefined) throw new Error("the circuit did not open");
  if (bb.knownOpenUntil(openCircuit) === undefined) throw new Error("the denial carried no retry_after: the circuit is not known OPEN");
  let ran = 0;
  const openGuarded = await measure(() => bb.run(openCircuit, async () => ++ran, { fallback: () => 0 }));
  if (ran !== 0) throw new Error(`the function ran ${ran} times on the open circuit`);
  if (bb.knownOpenUntil(openCircuit) === undefined) throw new Error("the open time ran out during the measurement");

  console.log(
    JSON.stringify({
      client: "typescript",
      runtime: `node ${process.version}`,
      calls: CALLS,
      direct_us: direct,
      guarded_us: guarded,
      acquire_rtt_us: acquireRtt,
      open_guarded_us: openGuarded,
    }),
  );
} finally {
  await bb.close();
}
