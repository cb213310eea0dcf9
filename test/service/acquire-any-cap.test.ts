/**
 * AcquireAny at the circuit cap: a new candidate the store has no room for
 * is passed over, so an existing candidate later in the list still serves
 * the call; the cap is the answer only when no candidate let it through.
 */
import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS, BUILTIN_PRESETS } from "../../src/engine/index.js";
import { Breakerbox } from "../../src/service/breakerbox.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { CircuitCapError } from "../../src/store/store.js";

const caller = { actor: "test" };

function serviceWithCap(maxCircuits: number): { service: Breakerbox; close: () => Promise<void> } {
  const store = createMemoryStore({
    layers: { defaults: { ...BUILTIN_DEFAULTS, failureThreshold: 1 }, presets: { ...BUILTIN_PRESETS }, rules: [] },
    tickIntervalMs: 0,
    maxCircuits,
  });
  return { service: new Breakerbox({ store }), close: () => store.close() };
}

describe("AcquireAny at the circuit cap", () => {
  it("passes over a new candidate with no room and takes an existing one after it", async () => {
    const { service, close } = serviceWithCap(1);
    await service.acquire("any.existing", caller);
    const result = await service.acquireAny(["any.new", "any.existing"], caller);
    expect(result.chosen?.circuit).toBe("any.existing");
    expect(result.denials).toEqual([]);
    await close();
  });

  it("answers the cap when no candidate let the call through", async () => {
    const { service, close } = serviceWithCap(1);
    await service.acquire("any.existing", caller);
    await expect(service.acquireAny(["any.new", "any.other-new"], caller)).rejects.toBeInstanceOf(CircuitCapError);
    await close();
  });
});
