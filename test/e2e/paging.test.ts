/**
 * Paging over the network: GetHistory and ListCircuits page tokens with
 * @grpc/grpc-js (and the same token over Connect), entries recorded between
 * pages, tokens refused on field page_token, page_size clamped.
 */
import { status as Status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { State, type HistoryEntry } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { CallError } from "../support/grpc-client.js";
import { useTestServer } from "../support/use-test-server.js";

const { server, client, connect } = useTestServer();

/** Records `count` transitions of `circuit`, 1 s apart: ForceState DISABLED, CLOSED, DISABLED, ... */
async function toggle(circuit: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    server.clock.advance(1_000);
    await client.call("forceState", { circuit, state: i % 2 === 0 ? State.DISABLED : State.CLOSED });
  }
}

/** "<from>-><to>@<seconds since t0>" for a transition. */
function summary(t0: number) {
  return (e: HistoryEntry): string => {
    if (e.entry.case !== "transition") return "config";
    const t = e.entry.value;
    return `${State[t.fromState]}->${State[t.toState]}@${(Number(t.at!.seconds) * 1000 - t0) / 1000}`;
  };
}

async function failure(p: Promise<unknown>): Promise<CallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CallError);
  return err as CallError;
}

describe("GetHistory paging over gRPC", () => {
  it("pages newest first; entries recorded between pages neither shift nor repeat them", async () => {
    const circuit = "paging.history";
    const t0 = server.clock.now();
    await toggle(circuit, 5); // @1..@5
    const p1 = await client.call("getHistory", { circuit, pageSize: 2 });
    expect(p1.entries.map(summary(t0))).toEqual(["CLOSED->DISABLED@5", "DISABLED->CLOSED@4"]);
    expect(p1.nextPageToken).toMatch(/^[A-Za-z0-9_-]+$/);
    await toggle(circuit, 3, 5); // @6..@8, while paging
    const p2 = await client.call("getHistory", { circuit, pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.entries.map(summary(t0))).toEqual(["CLOSED->DISABLED@3", "DISABLED->CLOSED@2"]);
    // The same token works over Connect (one service, two transports).
    const viaConnect = await connect.getHistory({ circuit, pageSize: 2, pageToken: p1.nextPageToken });
    expect(viaConnect.entries.map(summary(t0))).toEqual(p2.entries.map(summary(t0)));
    expect(viaConnect.nextPageToken).toBe(p2.nextPageToken);
    const p3 = await client.call("getHistory", { circuit, pageSize: 2, pageToken: p2.nextPageToken });
    expect(p3.entries.map(summary(t0))).toEqual(["CLOSED->DISABLED@1"]);
    expect(p3.nextPageToken).toBe("");
    // page_size 0 means 100: everything, newest first.
    const all = await client.call("getHistory", { circuit });
    expect(all.entries.map(summary(t0))).toEqual([8, 7, 6, 5, 4, 3, 2, 1].map((s) => `${s % 2 === 0 ? "DISABLED->CLOSED" : "CLOSED->DISABLED"}@${s}`));
    expect(all.nextPageToken).toBe("");
  });

  it("refuses a token of another circuit or of ListCircuits with INVALID_ARGUMENT on page_token", async () => {
    await toggle("paging.a", 3);
    await toggle("paging.b", 3);
    const { nextPageToken } = await client.call("getHistory", { circuit: "paging.a", pageSize: 1 });
    const other = await failure(client.call("getHistory", { circuit: "paging.b", pageSize: 1, pageToken: nextPageToken }));
    expect([other.code, other.details]).toEqual([
      Status.INVALID_ARGUMENT,
      "page_token was issued for another request (another filter, circuit or RPC); restart the listing without page_token",
    ]);
    const list = await client.call("listCircuits", { prefix: "paging.", pageSize: 1 });
    const crossed = await failure(client.call("getHistory", { circuit: "paging.a", pageToken: list.nextPageToken }));
    expect(crossed.code).toBe(Status.INVALID_ARGUMENT);
    const fromHistory = await failure(client.call("listCircuits", { prefix: "paging.", pageToken: nextPageToken }));
    expect(fromHistory.code).toBe(Status.INVALID_ARGUMENT);
    const garbage = await failure(client.call("getHistory", { circuit: "paging.a", pageToken: "not-a-token" }));
    expect([garbage.code, garbage.details]).toEqual([
      Status.INVALID_ARGUMENT,
      "page_token is not a next_page_token this server issued; pass it unchanged, or restart the listing without it",
    ]);
  });
});

describe("ListCircuits paging over gRPC", () => {
  it("binds the token to prefix and state, and reads page_size above 1000 as 1000", async () => {
    for (const n of ["c", "a", "b"]) await client.call("acquire", { circuit: `listing.${n}` });
    const p1 = await client.call("listCircuits", { prefix: "listing.", pageSize: 2 });
    expect(p1.circuits.map((c) => c.circuit)).toEqual(["listing.a", "listing.b"]);
    const p2 = await client.call("listCircuits", { prefix: "listing.", pageSize: 2, pageToken: p1.nextPageToken });
    expect([p2.circuits.map((c) => c.circuit), p2.nextPageToken]).toEqual([["listing.c"], ""]);
    const otherState = await failure(client.call("listCircuits", { prefix: "listing.", state: State.CLOSED, pageToken: p1.nextPageToken }));
    expect(otherState.code).toBe(Status.INVALID_ARGUMENT);
    expect(otherState.details).toMatch(/^page_token /);
    const big = await client.call("listCircuits", { prefix: "listing.", pageSize: 5000 });
    expect([big.circuits.length, big.nextPageToken]).toEqual([3, ""]);
  });
});
