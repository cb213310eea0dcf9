/**
 * Paging at the service layer (ListCircuits, GetHistory) over a memory store
 * with a frozen clock: page tokens bound to their request, page_size clamped,
 * and listings that page on while circuits and history entries come and go.
 * The stores' side (positions, trimming, restarts) is proven on both stores
 * by test/conformance and test/store.
 */
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { applyPatch, BUILTIN_DEFAULTS, BUILTIN_PRESETS, type State } from "../../src/engine/index.js";
import { Breakerbox } from "../../src/service/breakerbox.js";
import { PageTokenError } from "../../src/service/errors.js";
import { encodeToken } from "../../src/service/opaque-token.js";
import { toConnectError } from "../../src/server/status.js";
import { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from "../../src/store/memory.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

const T0 = 1_700_000_000_000;
const IDLE_TTL_MS = 60_000;

let now = T0;
const stores: MemoryStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup(options: Partial<MemoryStoreOptions> = {}): { store: MemoryStore; service: Breakerbox } {
  now = T0;
  const store = createMemoryStore({
    layers: { defaults: applyPatch(BUILTIN_DEFAULTS, {}), presets: BUILTIN_PRESETS, rules: [] },
    clock: () => now,
    random: () => 0.5,
    tickIntervalMs: 0,
    idleTtlMs: IDLE_TTL_MS,
    ...options,
  });
  stores.push(store);
  return { store, service: new Breakerbox({ store, clock: () => now }) };
}

/** Records `count` history entries of `name`, 1 ms apart (ForceState toggles); answers their times, oldest first. */
async function record(store: MemoryStore, name: string, count: number): Promise<number[]> {
  const at: number[] = [];
  for (let i = 0; i < count; i++) {
    now += 1;
    const current = await store.get(name);
    await store.force(name, current?.state === "DISABLED" ? "CLOSED" : "DISABLED", "ops");
    at.push(now);
  }
  return at;
}

/** The error `p` rejects with. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
}

async function pageTokenProblem(p: Promise<unknown>): Promise<string> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(PageTokenError);
  const status = toConnectError(err);
  expect(status.code).toBe(Code.InvalidArgument);
  expect(status.rawMessage).toMatch(/^page_token /);
  return (err as PageTokenError).problem;
}

describe(`ListCircuits paging (${seedLabel(TEST_SEED)})`, () => {
  it.each([
    ["any state", undefined, 4],
    ["state DISABLED", "DISABLED" as State, 3],
  ])(
    "pages (%s) while circuits are created and evicted: each circuit that exists throughout comes exactly once, in name order",
    async (_label, state, pageSize) => {
      const random = mulberry32(TEST_SEED);
      const { store, service } = setup();
      const name = (kind: string) => `pg.${kind}${Math.floor(random() * 1e9).toString(36)}`;
      // Throughout: DISABLED circuits are never evicted. Transient: CLOSED ones, kept or let go at random.
      const throughout = new Set<string>();
      const transient = new Set<string>();
      while (throughout.size < 25) {
        const n = name("s");
        throughout.add(n);
        await store.force(n, "DISABLED", "ops");
      }
      for (let i = 0; i < 25; i++) {
        const n = name("t");
        transient.add(n);
        await store.acquire(n);
      }
      await store.acquire("other.x");
      const ever = new Set([...throughout, ...transient]);

      const listed: string[] = [];
      let token = "";
      let pages = 0;
      let evicted = 0;
      do {
        const page = await service.listCircuits({ prefix: "pg.", state, pageSize, pageToken: token });
        expect(page.circuits.length).toBeLessThanOrEqual(pageSize);
        listed.push(...page.circuits.map((c) => c.circuit));
        token = page.nextPageToken;
        pages += 1;
        // Meanwhile: new circuits (anywhere in name order), and idle ones evicted.
        for (let i = Math.floor(random() * 4); i > 0; i--) {
          const n = name(random() < 0.5 ? "a" : "z");
          ever.add(n);
          transient.add(n);
          await store.acquire(n);
        }
        now += IDLE_TTL_MS / 2;
        for (const n of transient) if (random() < 0.5) await store.acquire(n); // used: stays
        evicted += store.evictIdle(now);
        for (const n of [...transient]) if ((await store.get(n)) === undefined) transient.delete(n);
      } while (token !== "" && pages < 200);

      expect(token).toBe("");
      // The run did change the listing under the pages: circuits were created and evicted.
      expect(ever.size).toBeGreaterThan(50);
      expect(evicted).toBeGreaterThan(10);
      expect(listed, "in strictly increasing name order: nothing repeats").toEqual([...new Set(listed)].sort());
      for (const n of throughout) expect(listed, `${n} existed throughout`).toContain(n);
      for (const n of listed) expect(ever.has(n), `${n} is one of ours`).toBe(true);
      if (state === "DISABLED") expect(listed).toEqual([...throughout].sort());
    },
  );

  it("refuses a token from another prefix, another state or another RPC, and one it did not write, on field page_token", async () => {
    const { store, service } = setup();
    for (const n of ["pg.a", "pg.b", "pg.c"]) await store.acquire(n);
    await store.acquire("px.a");
    const { nextPageToken } = await service.listCircuits({ prefix: "pg.", state: undefined, pageSize: 1, pageToken: "" });
    expect(nextPageToken).not.toBe("");
    // The same request continues.
    const next = await service.listCircuits({ prefix: "pg.", state: undefined, pageSize: 1, pageToken: nextPageToken });
    expect(next.circuits.map((c) => c.circuit)).toEqual(["pg.b"]);
    expect(await pageTokenProblem(service.listCircuits({ prefix: "px.", state: undefined, pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    expect(await pageTokenProblem(service.listCircuits({ prefix: "", state: undefined, pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    expect(await pageTokenProblem(service.listCircuits({ prefix: "pg.", state: "CLOSED", pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    expect(await pageTokenProblem(service.getHistory({ circuit: "pg.a", pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    // The pre-v1 token (the name in base64url) and other strings this server did not write.
    const legacy = Buffer.from("pg.a", "utf8").toString("base64url");
    for (const bad of [legacy, "not a token", "x".repeat(2000), encodeToken("circuits", ["pg.", ""], "not a name!")]) {
      expect(await pageTokenProblem(service.listCircuits({ prefix: "pg.", state: undefined, pageSize: 1, pageToken: bad })), bad).toBe("malformed");
    }
    expect((await failure(service.listCircuits({ prefix: "px.", state: undefined, pageSize: 1, pageToken: nextPageToken })) as Error).message).toBe(
      "page_token was issued for another request (another filter, circuit or RPC); restart the listing without page_token",
    );
  });

  it("reads page_size 0 as 100 and clamps one above 1000 to 1000", async () => {
    const { store, service } = setup();
    for (let i = 0; i < 1001; i++) await store.acquire(`pg.${String(i).padStart(4, "0")}`);
    const list = (pageSize: number, pageToken = "") => service.listCircuits({ prefix: "pg.", state: undefined, pageSize, pageToken });
    const big = await list(5000);
    expect(big.circuits).toHaveLength(1000);
    expect(big.circuits.at(-1)?.circuit).toBe("pg.0999");
    expect((await list(5000, big.nextPageToken)).circuits.map((c) => c.circuit)).toEqual(["pg.1000"]);
    expect((await list(1000)).circuits).toHaveLength(1000);
    expect((await list(1001)).circuits).toHaveLength(1000);
    expect((await list(0)).circuits).toHaveLength(100);
    expect((await list(0)).circuits.at(-1)?.circuit).toBe("pg.0099");
  });
});

describe(`GetHistory paging (${seedLabel(TEST_SEED)})`, () => {
  it("pages through while entries are recorded: exactly the entries that existed at the first page, newest first, once each", async () => {
    const random = mulberry32(TEST_SEED);
    const { store, service } = setup();
    const existing = (await record(store, "pg.h", 40)).reverse();
    const seen: number[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await service.getHistory({ circuit: "pg.h", pageSize: 7, pageToken: token });
      seen.push(...page.entries.map((e) => (e.kind === "transition" ? e.event.at : e.change.at)));
      token = page.nextPageToken;
      pages += 1;
      await record(store, "pg.h", Math.floor(random() * 6)); // at most 6 pages × 5: nothing is trimmed
    } while (token !== "" && pages < 20);
    expect(pages).toBe(6);
    expect(seen).toEqual(existing);
  });

  it("refuses a token for another circuit or from ListCircuits, and one it did not write, on field page_token", async () => {
    const { store, service } = setup();
    await record(store, "pg.a", 3);
    await record(store, "pg.b", 3);
    const { nextPageToken } = await service.getHistory({ circuit: "pg.a", pageSize: 1, pageToken: "" });
    expect(nextPageToken).not.toBe("");
    expect((await service.getHistory({ circuit: "pg.a", pageSize: 1, pageToken: nextPageToken })).entries).toHaveLength(1);
    expect(await pageTokenProblem(service.getHistory({ circuit: "pg.b", pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    expect(await pageTokenProblem(service.listCircuits({ prefix: "", state: undefined, pageSize: 1, pageToken: nextPageToken }))).toBe("mismatch");
    const fromList = (await service.listCircuits({ prefix: "", state: undefined, pageSize: 1, pageToken: "" })).nextPageToken;
    expect(await pageTokenProblem(service.getHistory({ circuit: "pg.a", pageSize: 1, pageToken: fromList }))).toBe("mismatch");
    for (const bad of ["garbage", encodeToken("history", ["pg.a"], "12"), encodeToken("history", ["pg.a"], "a.b")]) {
      expect(await pageTokenProblem(service.getHistory({ circuit: "pg.a", pageSize: 1, pageToken: bad })), bad).toBe("malformed");
    }
  });

  it("reads page_size 0 as 100 and clamps one above 1000 to 1000", async () => {
    const { store, service } = setup({ historyLimit: 2000 });
    const at = await record(store, "pg.h", 1001);
    const big = await service.getHistory({ circuit: "pg.h", pageSize: 5000, pageToken: "" });
    expect(big.entries).toHaveLength(1000);
    const rest = await service.getHistory({ circuit: "pg.h", pageSize: 5000, pageToken: big.nextPageToken });
    expect(rest.entries.map((e) => (e.kind === "transition" ? e.event.at : 0))).toEqual([at[0]]);
    expect(rest.nextPageToken).toBe("");
    expect((await service.getHistory({ circuit: "pg.h", pageSize: 0, pageToken: "" })).entries).toHaveLength(100);
  });

  it("answers NOT_FOUND while the circuit is evicted, and ends the listing once it is back (its history restarted)", async () => {
    const { store, service } = setup();
    await record(store, "pg.h", 4);
    const first = await service.getHistory({ circuit: "pg.h", pageSize: 2, pageToken: "" });
    now += IDLE_TTL_MS;
    expect(store.evictIdle(now)).toBe(1);
    expect(toConnectError(await failure(service.getHistory({ circuit: "pg.h", pageSize: 2, pageToken: first.nextPageToken }))).code).toBe(Code.NotFound);
    await record(store, "pg.h", 6);
    expect(await service.getHistory({ circuit: "pg.h", pageSize: 2, pageToken: first.nextPageToken })).toEqual({ entries: [], nextPageToken: "" });
    expect((await service.getHistory({ circuit: "pg.h", pageSize: 10, pageToken: "" })).entries).toHaveLength(6);
  });
});
