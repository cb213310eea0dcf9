#!/usr/bin/env node
/**
 * The conformance harness every client's test suite starts: it runs a real
 * Breakerbox (the repo's built dist/src/main.js, memory store, on free ports)
 * behind a TCP forwarder the suite can turn into an outage, and hands the
 * suite the scenarios of scenarios.yaml as JSON, so no client needs a YAML
 * parser and all three read the same story.
 *
 *   node clients/conformance/harness.mjs
 *
 * stdout, one JSON object per line:
 *   {"event":"ready","address":"127.0.0.1:P","direct":"127.0.0.1:Q","http":"127.0.0.1:R",
 *    "server_env":{...},"scenarios":[...]}
 *   {"ok":"<command>"} after each command is done (for "start": once the new
 *   server listens), or {"error":"<message>"}.
 * stdin, one command per line:
 *   kill       SIGKILL the server; the forwarder resets every connection, new
 *              ones are reset at once (a crashed replica: clients fail fast)
 *   start      start a fresh server (new memory store) and forward to it
 *   blackhole  cut every connection; new ones are accepted and never answered
 *              (a partition: clients wait for their deadlines)
 *   restore    forward again; connections held by the blackhole are reset so
 *              clients reconnect at once
 *   cut        reset every open connection, keep forwarding new ones
 *   exit       stop the server and exit (also on stdin's end)
 *
 * `address` is the forwarder: give it to the client under test. `direct` is
 * the server itself, for the suite's own checks (GetState, ForceState), which
 * must see the server even while the client's path is cut; it changes after
 * a `start`, whose reply carries the new one as {"ok":"start","direct":...}.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const here = fileURLToPath(new URL(".", import.meta.url));
const main = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));
const spec = parse(readFileSync(`${here}scenarios.yaml`, "utf8"));

const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

let server; // { child, grpc, http }
let mode = "refuse"; // "forward" | "refuse" | "blackhole"
const piped = new Set();
const held = new Set();

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], {
      env: serverEnv(),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let settled = false;
    createInterface({ input: child.stdout }).on("line", (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (!settled && entry.msg === "breakerbox listening") {
        settled = true;
        resolve({ child, grpc: entry.grpc, http: entry.http });
      }
    });
    child.once("exit", (code, signal) => {
      if (!settled) {
        settled = true;
        reject(new Error(`breakerbox exited before listening (code ${code}, signal ${signal}); is dist/ built (npm run build)?`));
      }
    });
  });
}

/** The suite's environment minus any store or port it set, plus scenarios.yaml's server_env. */
function serverEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("BREAKERBOX_") || name.startsWith("CIRCUIT_BREAKER_") || name.startsWith("REDIS_")) delete env[name];
  }
  return { ...env, ...spec.server_env, BREAKERBOX_HOST: "127.0.0.1", BREAKERBOX_GRPC_PORT: "0", BREAKERBOX_HTTP_PORT: "0", LOG_LEVEL: "info" };
}

function dropAll(sockets) {
  for (const socket of sockets) socket.resetAndDestroy();
  sockets.clear();
}

const forwarder = net.createServer((socket) => {
  socket.on("error", () => {});
  if (mode === "refuse" || server === undefined) {
    socket.resetAndDestroy();
    return;
  }
  if (mode === "blackhole") {
    held.add(socket);
    socket.once("close", () => held.delete(socket));
    return;
  }
  const [host, port] = splitAddress(server.grpc);
  const upstream = net.connect(port, host);
  upstream.on("error", () => socket.resetAndDestroy());
  socket.on("error", () => upstream.destroy());
  const pair = {
    resetAndDestroy() {
      socket.resetAndDestroy();
      upstream.destroy();
    },
  };
  piped.add(pair);
  const forget = () => piped.delete(pair);
  socket.once("close", () => {
    forget();
    upstream.destroy();
  });
  upstream.once("close", () => {
    forget();
    socket.destroy();
  });
  socket.pipe(upstream);
  upstream.pipe(socket);
});

function splitAddress(address) {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

async function stopServer(signal) {
  if (server === undefined) return;
  const { child } = server;
  server = undefined;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

const commands = {
  async kill() {
    mode = "refuse";
    await stopServer("SIGKILL");
    dropAll(piped);
    dropAll(held);
    return {};
  },
  async start() {
    await stopServer("SIGKILL");
    server = await startServer();
    mode = "forward";
    dropAll(held);
    return { direct: server.grpc, http: server.http };
  },
  async blackhole() {
    mode = "blackhole";
    dropAll(piped);
    return {};
  },
  async restore() {
    if (server === undefined) throw new Error("no server: send start");
    mode = "forward";
    dropAll(held);
    return {};
  },
  async cut() {
    dropAll(piped);
    return {};
  },
};

async function exit() {
  mode = "refuse";
  dropAll(piped);
  dropAll(held);
  await stopServer("SIGTERM");
  forwarder.close();
  process.exit(0);
}

await new Promise((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
server = await startServer();
mode = "forward";
say({
  event: "ready",
  address: `127.0.0.1:${forwarder.address().port}`,
  direct: server.grpc,
  http: server.http,
  server_env: spec.server_env,
  scenarios: spec.scenarios,
});

// One command at a time, in order: a suite waits for each reply anyway.
let queue = Promise.resolve();
createInterface({ input: process.stdin })
  .on("line", (line) => {
    const name = line.trim();
    if (name === "") return;
    queue = queue.then(async () => {
      if (name === "exit") return exit();
      const command = commands[name];
      if (command === undefined) return say({ error: `unknown command ${JSON.stringify(name)}: kill, start, blackhole, restore, cut, exit` });
      try {
        say({ ok: name, ...(await command()) });
      } catch (err) {
        say({ error: `${name}: ${err instanceof Error ? err.message : String(err)}` });
      }
    });
  })
  .on("close", () => {
    queue = queue.then(exit);
  });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void exit());
