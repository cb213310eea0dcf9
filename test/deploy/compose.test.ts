/**
 * docker-compose.yml, read as Compose would read it (YAML with anchors and
 * merge keys, `${VAR:-default}` interpolation), without Docker: each replica
 * service builds this Dockerfile, its environment is one the server accepts
 * (no problem, no unknown-variable warning), its published ports reach the
 * ports the image listens on, and it waits for a healthy Redis it can name.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { loadConfig } from "../../src/config/index.js";
import { parseDockerfile, parseEnv } from "./dockerfile.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const text = readFileSync(`${root}docker-compose.yml`, "utf8");

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

/** Compose's interpolation: `${NAME}`, `${NAME:-default}`, `${NAME-default}` from `vars`; anything else is an error as in Compose. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([^}]*)\}/g, (_, inner: string) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)(.*))?$/.exec(inner);
    if (m === null) throw new Error(`docker-compose.yml: cannot interpolate \${${inner}}`);
    const v = vars[m[1]!];
    if (m[2] === ":-") return v === undefined || v === "" ? m[3]! : v;
    if (m[2] === "-") return v === undefined ? m[3]! : v;
    return v ?? "";
  });
}

const doc = YAML.parse(text, { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = doc.services;
const replicas = Object.entries(services).filter(([, s]) => s.build !== undefined);
const image = parseDockerfile(readFileSync(`${root}Dockerfile`, "utf8")).at(-1)!;
const imageEnv = Object.assign({}, ...image.instructions.filter((i) => i.op === "ENV").map((i) => parseEnv(i.args))) as Record<string, string>;

function environmentOf(s: Service, vars: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ""), vars)]));
}

describe("docker-compose.yml", () => {
  it("has two Breakerbox replicas built from this Dockerfile, and Redis", () => {
    expect(replicas.map(([name]) => name)).toEqual(["breakerbox-1", "breakerbox-2"]);
    for (const [, s] of replicas) expect(s.build).toBe(".");
    expect(services.redis?.image).toMatch(/^redis:\d/);
  });

  it("gives each replica an environment the server accepts, with and without API keys", () => {
    const keys = "agents:agent:0123456789abcdef0123456789abcdef,ops:admin:fedcba9876543210fedcba9876543210";
    for (const vars of [{}, { BREAKERBOX_API_KEYS: keys }] as Record<string, string>[]) {
      for (const [name, s] of replicas) {
        const env = { ...imageEnv, ...environmentOf(s, vars) };
        const config = loadConfig(env); // throws ConfigError listing every problem
        expect(config.warnings, name).toEqual([]);
        expect(config.store).toMatchObject({ kind: "redis" });
        expect(config.apiKeys.length, name).toBe("BREAKERBOX_API_KEYS" in vars ? 2 : 0);
      }
    }
  });

  it("points each replica at a Redis service it waits for until healthy", () => {
    for (const [name, s] of replicas) {
      const url = new URL(environmentOf(s, {}).REDIS_URL!);
      expect(Object.keys(services), name).toContain(url.hostname);
      expect(s.depends_on?.[url.hostname]?.condition, name).toBe("service_healthy");
      expect(services[url.hostname]!.healthcheck?.test.length, `${url.hostname} healthcheck`).toBeGreaterThan(0);
    }
  });

  it("publishes distinct host ports onto the ports the image listens on", () => {
    const listening = [imageEnv.BREAKERBOX_GRPC_PORT, imageEnv.BREAKERBOX_HTTP_PORT].sort();
    const hostPorts: string[] = [];
    for (const [name, s] of replicas) {
      const env = { ...imageEnv, ...environmentOf(s, {}) };
      const containerPorts = (s.ports ?? []).map((p) => p.split(":")[1]!);
      expect(containerPorts.sort(), name).toEqual([env.BREAKERBOX_GRPC_PORT, env.BREAKERBOX_HTTP_PORT].sort());
      expect(containerPorts.sort(), name).toEqual(listening);
      hostPorts.push(...(s.ports ?? []).map((p) => p.split(":")[0]!));
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("declares every named volume a service mounts", () => {
    const volumes = Object.keys(doc.volumes ?? {});
    for (const [name, s] of Object.entries(services)) {
      for (const v of ((s as { volumes?: string[] }).volumes ?? []).map((m) => m.split(":")[0]!)) {
        if (!v.startsWith(".") && !v.startsWith("/")) expect(volumes, `${name} mounts ${v}`).toContain(v);
      }
    }
  });
});
