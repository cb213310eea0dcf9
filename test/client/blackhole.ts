/**
 * A forwarder to one server that a test can turn into a partition: in
 * "blackhole" mode every open connection is cut and new ones are accepted and
 * never answered (an RPC waits for its deadline); `restore()` forwards again
 * and resets the held connections so the client reconnects at once. The
 * conformance harness (clients/conformance/harness.mjs) does the same for the
 * players; the client tests need it in-process, next to a manual-clock server.
 */
import { createConnection, createServer, type Socket } from "node:net";

export interface Blackhole {
  readonly address: string;
  /** Connections the blackhole holds, and the bytes they sent. */
  readonly held: { socket: Socket; bytes: number }[];
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBlackhole(targetPort: number): Promise<Blackhole> {
  let mode: "forward" | "blackhole" = "forward";
  const piped = new Set<Socket>();
  const held: { socket: Socket; bytes: number }[] = [];
  const server = createServer((client) => {
    client.on("error", () => undefined);
    if (mode === "blackhole") {
      const h = { socket: client, bytes: 0 };
      held.push(h);
      client.on("data", (d: Buffer) => (h.bytes += d.length));
      return;
    }
    const backend = createConnection({ host: "127.0.0.1", port: targetPort });
    backend.on("error", () => client.resetAndDestroy());
    piped.add(client);
    client.once("close", () => {
      piped.delete(client);
      backend.destroy();
    });
    backend.once("close", () => client.destroy());
    client.pipe(backend);
    backend.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    held,
    blackhole() {
      mode = "blackhole";
      for (const s of piped) s.resetAndDestroy();
    },
    restore() {
      mode = "forward";
      for (const h of held.splice(0)) h.socket.resetAndDestroy();
    },
    async close() {
      for (const s of piped) s.destroy();
      for (const h of held.splice(0)) h.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
