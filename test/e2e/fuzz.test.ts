/**
 * A seeded fuzz run against the built server (`node dist/src/main.js`) on
 * both ports, memory store and Redis store: random and mutated protobuf
 * requests for every CircuitService method, malformed gRPC frames over raw
 * HTTP/2, malformed Connect JSON and binary bodies (bench/fuzz-gen.mjs).
 * The server must never crash, answer only documented codes with
 * google.rpc.ErrorInfo on every error (bench/fuzz-run.mjs), answer its
 * health checks between batches, and leave every circuit's state consistent
 * with its counters and history (bench/fuzz-invariants.mjs).
 *
 * The seed is FUZZ_SEED, else TEST_SEED, else fixed, so `npm test` is
 * repeatable; it is in the test name. FUZZ_ITERATIONS sets the run's length.
 * bench/fuzz.mjs runs the same generator for a million cases and a fresh seed.
 */
import { describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { checkInvariants } from "../../bench/fuzz-invariants.mjs";
import { runFuzz, type FuzzResult } from "../../bench/fuzz-run.mjs";
import { seedLabel } from "../conformance/random.js";
import { useRedis, useReplica } from "../support/process-fixtures.js";
import type { Replica } from "../support/replicas.js";

const ADMIN_KEY = "admin-fuzz-Qm3vX8kT2pL9wZ5r";
const AGENT_KEY = "agent-fuzz-Hc7nB1yD4sF6jR0e";
const KEYS = { BREAKERBOX_API_KEYS: `fuzz-agent:agent:${AGENT_KEY},fuzz-admin:admin:${ADMIN_KEY}` };

function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

const SEED = (envInteger("FUZZ_SEED") ?? envInteger("TEST_SEED") ?? 0xf022_5eed) >>> 0;
const ITERATIONS = envInteger("FUZZ_ITERATIONS") ?? 4000;

/** What a failed run prints: the seed to replay and every violation. */
function report(result: FuzzResult): string {
  return [`${seedLabel(result.seed)} (replay: FUZZ_SEED=${result.seed})`, JSON.stringify(result.counts), ...result.violations.map((v) => JSON.stringify(v))].join("\n");
}

function fuzzSuite(store: string, replica: Replica, iterations: number): void {
  it(`${store}: ${iterations} cases, ${seedLabel(SEED)}: documented codes with ErrorInfo, alive throughout, invariants hold`, { timeout: 600_000 }, async () => {
    process.stdout.write(`fuzz (${store}): ${seedLabel(SEED)}, ${iterations} cases; replay with FUZZ_SEED=${SEED}\n`);
    const result = await runFuzz({
      service: CircuitService,
      statusSchema: StatusSchema,
      errorInfoSchema: ErrorInfoSchema,
      seed: SEED,
      iterations,
      grpcAddress: replica.grpc,
      httpUrl: replica.http,
      authorization: { admin: ADMIN_KEY, agent: AGENT_KEY },
    });
    process.stdout.write(`fuzz (${store}): ${JSON.stringify(result.counts)}\n`);
    expect(result.violations, report(result)).toEqual([]);
    expect(result.probes.failures).toEqual([]);
    expect(result.probes.answered).toBe(result.probes.sent);
    // Well-formed traffic made it through: the run is not all refusals.
    expect((result.counts["grpc OK"] ?? 0) + (result.counts["http OK"] ?? 0)).toBeGreaterThan(iterations / 10);

    const invariants = await checkInvariants({ httpUrl: replica.http, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(invariants.problems, seedLabel(SEED)).toEqual([]);
    // The shared circuits really moved: there were transitions to check.
    expect(invariants.transitions).toBeGreaterThan(0);
    expect(await replica.health()).toBe(1); // SERVING
    expect(replica.problems()).toEqual([]);
  });
}

describe("fuzz: memory store", () => {
  const replica = useReplica(KEYS);
  fuzzSuite("memory", replica, ITERATIONS);
});

describe("fuzz: Redis store", () => {
  const redis = useRedis();
  const replica = useReplica(() => ({ ...KEYS, REDIS_URL: redis.url }));
  fuzzSuite("redis", replica, Math.ceil(ITERATIONS / 2));
});
