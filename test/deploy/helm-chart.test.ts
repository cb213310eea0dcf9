/**
 * deploy/helm/breakerbox with the real helm (scripts/install-helm.sh builds it
 * into .tools/bin; this suite runs it first): `helm lint`, and `helm template` over the main value
 * combinations (the chart's ci/*.yaml), checking what the cluster would get:
 * ports, probes, an environment the server accepts (run through the server's
 * own loadConfig), secrets only in Secrets, the Prometheus rules equal to
 * deploy/prometheus/alerts.yml, and the plain manifests of deploy/kubernetes
 * equal to a fresh render.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { loadConfig } from "../../src/config/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const helm = `${root}.tools/bin/helm`;
const chart = `${root}deploy/helm/breakerbox`;

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
}

function render(valuesFiles: string[], set: string[] = []): K8sObject[] {
  const args = ["template", "bb", chart, "--namespace", "agents", ...valuesFiles.flatMap((f) => ["-f", f]), ...set.flatMap((s) => ["--set", s])];
  const out = execFileSync(helm, args, { encoding: "utf8" });
  return YAML.parseAllDocuments(out).map((d) => d.toJSON() as K8sObject).filter((o) => o !== null);
}

function renderError(set: string[]): string {
  const r = spawnSync(helm, ["template", "bb", chart, ...set.flatMap((s) => ["--set", s])], { encoding: "utf8" });
  expect(r.status, "helm template should refuse these values").not.toBe(0);
  return r.stderr;
}

const one = (objs: K8sObject[], kind: string, name?: string) => {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.length, `${kind} ${name ?? ""}`).toBe(1);
  return found[0]!;
};

/**
 * The container's environment as the server would see it: plain values, and
 * secretKeyRefs resolved from the rendered Secrets (existing Secrets, which
 * the chart does not render, answer `<secret>/<key>` placeholders of the right kind).
 */
function environment(objs: K8sObject[], placeholders: Record<string, string>): Record<string, string> {
  const container = one(objs, "Deployment").spec.template.spec.containers[0];
  const secrets = new Map(objs.filter((o) => o.kind === "Secret").map((s) => [s.metadata.name, s.data ?? {}]));
  const env: Record<string, string> = {};
  for (const e of container.env as { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string; optional?: boolean } } }[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else {
      const ref = e.valueFrom!.secretKeyRef;
      const data = secrets.get(ref.name);
      if (data !== undefined) {
        expect(Object.keys(data), `${ref.name} holds ${ref.key}`).toContain(ref.key);
        env[e.name] = Buffer.from(data[ref.key]!, "base64").toString("utf8");
      } else if (!ref.optional) {
        env[e.name] = placeholders[ref.key] ?? `${ref.name}/${ref.key}`;
      }
    }
  }
  return env;
}

const ci = (name: string) => `${chart}/ci/${name}`;
const placeholders = {
  BREAKERBOX_API_KEYS: "agents:agent:0123456789abcdef0123",
  BREAKERBOX_PERMIT_SECRET: "x".repeat(32),
  REDIS_PASSWORD: "pw",
};

describe("helm chart deploy/helm/breakerbox", () => {
  // Builds helm when it is missing (minutes on a fresh machine), or waits for the build CI
  // started in the background (the script holds a lock); fails with the build's own output.
  beforeAll(() => {
    execFileSync("bash", [`${root}scripts/install-helm.sh`], { stdio: "pipe", timeout: 20 * 60_000 });
  }, 20 * 60_000);

  it("passes helm lint with the defaults and with every ci/ values file", () => {
    execFileSync(helm, ["lint", "--strict", chart], { encoding: "utf8" });
    for (const f of readdirSync(`${chart}/ci`)) execFileSync(helm, ["lint", "--strict", chart, "-f", ci(f)], { encoding: "utf8" });
  });

  it("renders one in-memory replica by default, with gRPC health probes and a locked-down container", () => {
    const objs = render([]);
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(["Deployment/bb-breakerbox", "Service/bb-breakerbox", "Service/bb-breakerbox-headless"]);
    const d = one(objs, "Deployment");
    expect(d.spec.replicas).toBe(1);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.ports).toEqual([
      { name: "grpc", containerPort: 50051, protocol: "TCP" },
      { name: "http", containerPort: 8080, protocol: "TCP" },
    ]);
    expect(c.livenessProbe.grpc).toEqual({ port: 50051, service: "liveness" });
    expect(c.readinessProbe.grpc).toEqual({ port: 50051, service: "breakerbox.v1.CircuitService" });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(c.resources.requests).toBeDefined();
    const config = loadConfig(environment(objs, placeholders));
    expect(config.store).toEqual({ kind: "memory" });
    expect(config.warnings).toEqual([]);
    expect([config.host, config.grpcPort, config.httpPort, config.maxConnectionAgeMs]).toEqual(["0.0.0.0", 50051, 8080, 300_000]);
    const headless = one(objs, "Service", "bb-breakerbox-headless");
    expect(headless.spec.clusterIP).toBe("None");
    expect(one(objs, "Service", "bb-breakerbox").spec.ports.map((p: { port: number; targetPort: string }) => [p.port, p.targetPort])).toEqual([
      [50051, "grpc"],
      [8080, "http"],
    ]);
  });

  it("with Redis, keys and a config file: every secret in the Secret, none in the ConfigMap or the Deployment", () => {
    const objs = render([ci("redis-values.yaml")]);
    const values = YAML.parse(readFileSync(ci("redis-values.yaml"), "utf8"));
    const secretTexts = [values.redis.password, values.permitSecret.value, ...values.apiKeys.entries.map((e: { key: string }) => e.key)];
    const configMap = one(objs, "ConfigMap");
    const deployment = one(objs, "Deployment");
    for (const text of secretTexts) {
      expect(JSON.stringify(configMap), "ConfigMap").not.toContain(text);
      expect(JSON.stringify(deployment), "Deployment").not.toContain(text);
    }
    const env = environment(objs, placeholders);
    expect(env.BREAKERBOX_CONFIG).toBe("/etc/breakerbox/config/config.yaml");
    const config = loadConfig(env, { readFile: () => configMap.data!["config.yaml"]! });
    expect(config.warnings).toEqual([]);
    expect(config.store).toMatchObject({ kind: "redis", connection: { mode: "single", url: values.redis.url, password: values.redis.password } });
    expect(config.apiKeys.map((k) => [k.name, k.role])).toEqual([
      ["agents", "agent"],
      ["oncall", "admin"],
    ]);
    expect(config.permitSecret?.toString()).toBe(values.permitSecret.value);
    expect(config.layers.defaults.failureThreshold).toBe(7);
    expect(config.layers.rules.map((r) => r.pattern)).toEqual(["llm.*"]);
    expect(deployment.spec.replicas).toBe(3);
    expect(one(objs, "PodDisruptionBudget").spec.maxUnavailable).toBe(1);
    // The config file is mounted read-only where BREAKERBOX_CONFIG points.
    const mount = deployment.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === "config");
    expect(mount).toEqual({ name: "config", mountPath: "/etc/breakerbox/config", readOnly: true });
  });

  it("renders the ServiceMonitor for job=breakerbox and the PrometheusRule from deploy/prometheus/alerts.yml", () => {
    const objs = render([ci("redis-values.yaml")]);
    const sm = one(objs, "ServiceMonitor");
    expect(sm.spec.jobLabel).toBe("app.kubernetes.io/name");
    expect(sm.spec.endpoints).toEqual([{ port: "http", path: "/metrics", interval: "15s" }]);
    const shipped = readFileSync(`${root}deploy/prometheus/alerts.yml`, "utf8");
    expect(readFileSync(`${chart}/files/alerts.yml`, "utf8"), "files/alerts.yml must be a copy of deploy/prometheus/alerts.yml").toBe(shipped);
    expect(one(objs, "PrometheusRule").spec).toEqual(YAML.parse(shipped));
  });

  it("with Sentinel, existing Secrets and TLS: secret refs, TLS files mounted, HTTPS probes", () => {
    const objs = render([ci("sentinel-tls-values.yaml")]);
    expect(objs.filter((o) => o.kind === "Secret")).toEqual([]);
    const c = one(objs, "Deployment").spec.template.spec.containers[0];
    const refs = c.env.filter((e: { valueFrom?: unknown }) => e.valueFrom !== undefined).map((e: { name: string; valueFrom: { secretKeyRef: { name: string } } }) => [e.name, e.valueFrom.secretKeyRef.name]);
    expect(refs).toEqual([
      ["REDIS_PASSWORD", "breakerbox-redis"],
      ["REDIS_USERNAME", "breakerbox-redis"],
      ["BREAKERBOX_API_KEYS", "breakerbox-keys"],
      ["BREAKERBOX_PERMIT_SECRET", "breakerbox-permit"],
      ["BREAKERBOX_PERMIT_SECRET_PREVIOUS", "breakerbox-permit"],
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http", scheme: "HTTPS" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http", scheme: "HTTPS" });
    const env = environment(objs, placeholders);
    expect([env.BREAKERBOX_TLS_CERT_FILE, env.BREAKERBOX_TLS_KEY_FILE, env.BREAKERBOX_TLS_CLIENT_CA_FILE]).toEqual([
      "/etc/breakerbox/tls/tls.crt",
      "/etc/breakerbox/tls/tls.key",
      "/etc/breakerbox/tls/ca.crt",
    ]);
    expect(c.volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/breakerbox/tls", readOnly: true });
    // The TLS files exist only in the cluster; the rest of the environment must load.
    const { BREAKERBOX_TLS_CERT_FILE: _c, BREAKERBOX_TLS_KEY_FILE: _k, BREAKERBOX_TLS_CLIENT_CA_FILE: _a, ...rest } = env;
    const config = loadConfig(rest);
    expect(config.store).toMatchObject({ kind: "redis", connection: { mode: "sentinel", name: "breakerbox" } });
    expect(one(objs, "ServiceMonitor").spec.endpoints[0]).toMatchObject({ scheme: "https", tlsConfig: { insecureSkipVerify: true } });
  });

  it("with Redis Cluster: no headless Service, no PodDisruptionBudget, the key prefix, connection age off", () => {
    const objs = render([ci("cluster-values.yaml")]);
    expect(objs.map((o) => o.kind).sort()).toEqual(["Deployment", "Service"]);
    const config = loadConfig(environment(objs, placeholders));
    expect(config.store).toMatchObject({ kind: "redis", keyPrefix: "prod:", connection: { mode: "cluster" } });
    expect(config.maxConnectionAgeMs).toBe(0);
  });

  it("refuses values that would make a broken release, naming the value", () => {
    expect(renderError(["replicaCount=2"])).toMatch(/replicaCount > 1 needs redis/);
    expect(renderError(["redis.url=redis://a:6379", "redis.clusterNodes=b:6379"])).toMatch(/redis: set only one of/);
    expect(renderError(["redis.sentinels=s:26379"])).toMatch(/redis.sentinelName: required/);
    expect(renderError(["config.api_keys[0].name=x"])).toMatch(/config: api_keys and permit secrets do not belong/);
    expect(renderError(["env.BREAKERBOX_API_KEYS=a:agent:0123456789abcdef"])).toMatch(/env.BREAKERBOX_API_KEYS: a secret does not belong in env/);
  });

  it("has deploy/kubernetes rendered from it, unchanged", () => {
    const rendered = execFileSync("bash", [`${root}scripts/render-kubernetes.sh`, "--stdout"], { encoding: "utf8" });
    expect(readFileSync(`${root}deploy/kubernetes/breakerbox.yaml`, "utf8"), "run scripts/render-kubernetes.sh").toBe(rendered);
  });
});
