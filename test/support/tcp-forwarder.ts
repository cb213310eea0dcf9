/**
 * A fixed address for a service that goes away and comes back, without
 * freeing a port and hoping to get it again (issue 11: "no port freed and
 * then reused by a test": between the close and the new bind, any other
 * process on the machine may take the port).
 *
 *   const front = await startForwarder();          // listens on 127.0.0.1:<port 0>, kept until close()
 *   const bb = createBreakerbox({ address: front.address });
 *   front.forwardTo(a.app.grpcPort);               // connections now reach server A
 *   await a.stop(); front.forwardTo(undefined);    // "down": every new connection is reset at once
 *   front.forwardTo(b.app.grpcPort);               // the service is back, on whatever port B got
 *
 * Connections already open keep their backend; they end when it closes them.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface Forwarder {
  /** The port the forwarder listens on (bound with port 0). */
  readonly port: number;
  /** "127.0.0.1:<port>". */
  readonly address: string;
  /** Where new connections go: a port on 127.0.0.1, or undefined to reset them as a port nobody listens on would refuse them. */
  forwardTo(port: number | undefined): void;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/** Starts a forwarder on 127.0.0.1 with no backend (every connection reset until forwardTo). */
export async function startForwarder(): Promise<Forwarder> {
  let target: number | undefined;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (target === undefined) {
      client.resetAndDestroy();
      return;
    }
    const backend = createConnection({ host: "127.0.0.1", port: target });
    for (const s of [client, backend]) {
      open.add(s);
      s.once("close", () => open.delete(s));
    }
    client.pipe(backend);
    backend.pipe(client);
    // Either side failing or closing ends the other, as a direct connection would.
    client.once("error", () => backend.destroy());
    backend.once("error", () => client.resetAndDestroy());
    client.once("close", () => backend.destroy());
    backend.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    address: `127.0.0.1:${port}`,
    forwardTo(p) {
      target = p;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
