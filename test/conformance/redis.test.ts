/** The conformance suite on the Redis store, against a real redis-server this file starts. */
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { startRedis, type RedisServer } from "../support/redis-servers.js";
import { describeCircuitStoreConformance, type HarnessFactory } from "./circuit-store-suite.js";
import { describeListIndexConformance } from "./list-index-suite.js";
import { describePatternRuleConformance } from "./pattern-rules-suite.js";
import { describeCircuitCapConformance, describeIdleExpiryConformance } from "./idle-cap-suite.js";
import { seedLabel, TEST_SEED } from "./random.js";
import { redisHarness } from "./redis-harness.js";

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis.stop();
});

const factory: HarnessFactory = (options) =>
  redisHarness(() => new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 1 }), false, options);

describeCircuitStoreConformance(`redis store (${seedLabel(TEST_SEED)})`, factory);
describePatternRuleConformance(`redis store (${seedLabel(TEST_SEED)})`, factory);
describeListIndexConformance(`redis store (${seedLabel(TEST_SEED)})`, factory);
describeIdleExpiryConformance(`redis store (${seedLabel(TEST_SEED)})`, factory);
describeCircuitCapConformance(`redis store (${seedLabel(TEST_SEED)})`, factory);
