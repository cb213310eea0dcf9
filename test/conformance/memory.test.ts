/** The conformance suite on the embedded store, with a frozen clock the suite advances. */
import { createMemoryStore } from "../../src/store/memory.js";
import { describeCircuitStoreConformance, type HarnessFactory } from "./circuit-store-suite.js";
import { describeListIndexConformance } from "./list-index-suite.js";
import { describePatternRuleConformance } from "./pattern-rules-suite.js";
import { describeCircuitCapConformance, describeIdleExpiryConformance } from "./idle-cap-suite.js";
import { mulberry32, seedLabel, TEST_SEED } from "./random.js";

/** A round start instant, so bucket and second boundaries are easy to read in failures. */
const T0 = 1_700_000_000_000;

const factory: HarnessFactory = async ({ layers, circuits, random, eventLogSize, permitSecret, idleTtlMs, maxCircuits, permitWindowSlots }) => {
  let now = T0;
  const store = createMemoryStore({
    layers,
    ...(circuits === undefined ? {} : { circuits }),
    ...(eventLogSize === undefined ? {} : { eventLogSize }),
    ...(permitSecret === undefined ? {} : { permitSecret }),
    ...(idleTtlMs === undefined ? {} : { idleTtlMs }),
    ...(maxCircuits === undefined ? {} : { maxCircuits }),
    ...(permitWindowSlots === undefined ? {} : { permitWindowSlots }),
    clock: () => now,
    random: random ?? mulberry32(TEST_SEED),
    tickIntervalMs: 0,
  });
  return {
    store,
    now: () => now,
    advance: async (ms) => {
      if (!(ms >= 0)) throw new Error(`advance(${ms}): time only moves forward`);
      now += ms;
      if (idleTtlMs !== undefined) store.evictIdle();
    },
    expireIdle: async () => void store.evictIdle(now),
    close: () => store.close(),
  };
};

describeCircuitStoreConformance(`memory store (${seedLabel(TEST_SEED)})`, factory);
describePatternRuleConformance(`memory store (${seedLabel(TEST_SEED)})`, factory);
describeListIndexConformance(`memory store (${seedLabel(TEST_SEED)})`, factory);
describeIdleExpiryConformance(`memory store (${seedLabel(TEST_SEED)})`, factory);
describeCircuitCapConformance(`memory store (${seedLabel(TEST_SEED)})`, factory);
