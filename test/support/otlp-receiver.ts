/**
 * A tiny OTLP/HTTP trace receiver for tests: accepts POST /v1/traces with
 * JSON bodies (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and keeps every span,
 * flattened with its attributes as a plain object.
 *
 *   const otlp = await startOtlpReceiver();
 *   startReplica({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: "20" });
 *   const spans = await otlp.waitFor((all) => all.filter(...).length >= 2 ? all : undefined, "two spans");
 */
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One received span. Ids are hex, as OTLP/JSON carries them; kind is OTLP's number (1 internal, 2 server, 3 client). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number; message?: string };
  /** service.name of the resource that sent it. */
  service: string;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:port, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans(): ReceivedSpan[];
  /** Content types of the requests received (every one should be application/json). */
  contentTypes(): string[];
  /** Resolves with `check(spans)` once it is not undefined, checked on every export; fails after `ms`. */
  waitFor<T>(check: (spans: ReceivedSpan[]) => T | undefined, what: string, ms?: number): Promise<T>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

function valueOf(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  return JSON.stringify(v);
}

const attributesOf = (list: KeyValue[] | undefined): Record<string, string | number | boolean> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(req.headers["content-type"] ?? "");
      const parsed = JSON.parse(text) as {
        resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
      };
      for (const rs of parsed.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              traceId: String(s["traceId"]),
              spanId: String(s["spanId"]),
              parentSpanId: String(s["parentSpanId"] ?? ""),
              name: String(s["name"]),
              kind: Number(s["kind"]),
              attributes: attributesOf(s["attributes"] as KeyValue[] | undefined),
              status: (s["status"] ?? {}) as ReceivedSpan["status"],
              service,
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      for (const wake of waiters) wake();
    })();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    spans: () => [...spans],
    contentTypes: () => [...contentTypes],
    waitFor(check, what, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const tryNow = (): boolean => {
          const result = check([...spans]);
          if (result === undefined) return false;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(result);
          return true;
        };
        const wake = (): void => void tryNow();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no ${what} within ${ms} ms; received: ${spans.map((s) => `${s.name} ${s.traceId}`).join(", ") || "nothing"}`));
        }, ms);
        waiters.add(wake);
        tryNow();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
