// Small process helpers the benches share: a free port, and a throwaway
// redis-server (no persistence) ready to answer.
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";

/** A port on 127.0.0.1 free at the time of asking. */
export async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Starts redis-server on `port` (default: a free one; no RDB, no AOF); resolves once it answers PING. Throws if it never does. */
export async function startRedis(port) {
  port ??= await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" });
    if (r.stdout.trim() === "PONG") return { child, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not answer");
}
