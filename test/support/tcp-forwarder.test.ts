import { once } from "node:events";
import { connect, createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startForwarder, type Forwarder } from "./tcp-forwarder.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** An echo server on port 0 that prefixes what it echoes with `tag`. */
async function echo(tag: string): Promise<number> {
  const server: Server = createServer((s) => s.on("data", (d) => s.write(`${tag}:${d.toString()}`)));
  server.listen({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  cleanup.push(() => new Promise((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

/** Sends `text` through the forwarder: the first reply, or the error that ended the connection. */
async function roundTrip(front: Forwarder, text: string): Promise<string> {
  const socket = connect(front.port, "127.0.0.1");
  try {
    return await new Promise<string>((resolve) => {
      socket.once("data", (d) => resolve(d.toString()));
      socket.once("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
      socket.once("close", () => resolve("closed"));
      socket.write(text);
    });
  } finally {
    socket.destroy();
  }
}

describe("tcp-forwarder", () => {
  it("resets connections without a backend, forwards to the backend set, then to the next one, on one port", async () => {
    const front = await startForwarder();
    cleanup.push(() => front.close());
    expect(front.address).toBe(`127.0.0.1:${front.port}`);
    expect(await roundTrip(front, "x")).toBe("error ECONNRESET");
    front.forwardTo(await echo("a"));
    expect(await roundTrip(front, "x")).toBe("a:x");
    front.forwardTo(await echo("b"));
    expect(await roundTrip(front, "y")).toBe("b:y");
  });
});
