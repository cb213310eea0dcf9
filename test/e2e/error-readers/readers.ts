/**
 * One reader per client stack for test/e2e/error-reasons.test.ts: each runs a
 * list of calls against a live server and reports, per call, the status code
 * and what the error details say, read the way that stack's users read them:
 * - grpc-js: the `grpc-status-details-bin` trailer, decoded as google.rpc.Status;
 * - connect / grpc-web: Connect clients on the HTTP port, `err.findDetails()`;
 * - grpcurl: `grpcurl -format-error` (details resolved through reflection);
 * - python: grpcio-status `rpc_status.from_call` (python/read_errors.py);
 * - go: `status.Convert(err).Details()` (go/main.go).
 */
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary, fromJson, toBinary, type DescMethod, type JsonObject } from "@bufbuild/protobuf";
import { anyUnpack, durationMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { CircuitService } from "../../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema, type Status } from "../../../gen/ts/google/rpc/status_pb.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

/** One call: a CircuitService method by proto name, its request as proto JSON, request metadata. */
export interface ErrorCall {
  method: string;
  request?: JsonObject;
  metadata?: Record<string, string>;
  /** Send these bytes (base64) instead of the request: an undecodable body. */
  raw?: string;
}

/** What a client saw. `code` 0 when the call succeeded (then nothing else is set). */
export interface Observed {
  code: number;
  reason: string | null;
  domain: string | null;
  metadata: Record<string, string>;
  retryDelayMs: number | null;
  fieldViolations: string[];
}

export type ReaderName = "grpc-js" | "connect" | "grpc-web" | "grpcurl" | "python" | "go";

/** Runs `calls` in order against the server, one Observed per call. */
export type Reader = (server: { grpcAddress: string; httpUrl: string }, calls: readonly ErrorCall[]) => Promise<Observed[]>;

const CALL_TIMEOUT_MS = 5000;

function methodOf(name: string): DescMethod {
  const method = CircuitService.methods.find((m) => m.name === name);
  if (method === undefined) throw new Error(`no CircuitService method ${name}`);
  return method;
}

function observedOfStatus(code: number, status: Status | undefined): Observed {
  const out: Observed = { code, reason: null, domain: null, metadata: {}, retryDelayMs: null, fieldViolations: [] };
  for (const any of status?.details ?? []) {
    const info = anyUnpack(any, ErrorInfoSchema);
    if (info !== undefined) Object.assign(out, { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } });
    const retry = anyUnpack(any, RetryInfoSchema);
    if (retry?.retryDelay !== undefined) out.retryDelayMs = durationMs(retry.retryDelay);
    const bad = anyUnpack(any, BadRequestSchema);
    if (bad !== undefined) out.fieldViolations = bad.fieldViolations.map((v) => v.field);
  }
  return out;
}

const OK: Observed = { code: 0, reason: null, domain: null, metadata: {}, retryDelayMs: null, fieldViolations: [] };

function requestBytes(call: ErrorCall): Buffer {
  if (call.raw !== undefined) return Buffer.from(call.raw, "base64");
  const method = methodOf(call.method);
  return Buffer.from(toBinary(method.input, fromJson(method.input, call.request ?? {})));
}

/** grpc-js, decoding grpc-status-details-bin itself. */
export const grpcJsReader: Reader = async (server, calls) => {
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  const identity = (b: Buffer): Buffer => b;
  try {
    const out: Observed[] = [];
    for (const call of calls) {
      const method = methodOf(call.method);
      const path = `/${CircuitService.typeName}/${method.name}`;
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(call.metadata ?? {})) metadata.set(k, v);
      const options = { deadline: Date.now() + CALL_TIMEOUT_MS };
      const error = await new Promise<grpc.ServiceError | undefined>((resolve) => {
        if (method.methodKind === "server_streaming") {
          const stream = client.makeServerStreamRequest(path, identity, identity, requestBytes(call), metadata, options);
          stream.on("data", () => {});
          stream.on("error", (e: grpc.ServiceError) => resolve(e));
          stream.on("end", () => resolve(undefined));
        } else {
          client.makeUnaryRequest(path, identity, identity, requestBytes(call), metadata, options, (e) => resolve(e ?? undefined));
        }
      });
      out.push(error === undefined ? OK : observedOfGrpcJsError(error));
    }
    return out;
  } finally {
    client.close();
  }
};

/** A grpc-js ServiceError's status code and details. */
export function observedOfGrpcJsError(error: grpc.ServiceError): Observed {
  const bin = error.metadata.get("grpc-status-details-bin")[0];
  return observedOfStatus(error.code, Buffer.isBuffer(bin) ? fromBinary(StatusSchema, bin) : undefined);
}

function connectReader(makeTransport: (baseUrl: string) => Transport): Reader {
  return async (server, calls) => {
    const client = createClient(CircuitService, makeTransport(server.httpUrl)) as unknown as Record<
      string,
      (req: unknown, options: unknown) => Promise<unknown> | AsyncIterable<unknown>
    >;
    const out: Observed[] = [];
    for (const call of calls) {
      if (call.raw !== undefined) throw new Error("Connect clients cannot send undecodable bytes");
      const method = methodOf(call.method);
      const options = { headers: call.metadata ?? {}, timeoutMs: CALL_TIMEOUT_MS };
      const request = fromJson(method.input, call.request ?? {});
      try {
        const result = client[method.localName]!(request, options);
        if (method.methodKind === "server_streaming") for await (const _ of result as AsyncIterable<unknown>);
        else await result;
        out.push(OK);
      } catch (e) {
        out.push(observedOfConnectError(ConnectError.from(e)));
      }
    }
    return out;
  };
}

/** What a ConnectError's details say, read with findDetails as Connect users do. */
export function observedOfConnectError(err: ConnectError): Observed {
  const [info] = err.findDetails(ErrorInfoSchema);
  const [retry] = err.findDetails(RetryInfoSchema);
  const [bad] = err.findDetails(BadRequestSchema);
  return {
    code: err.code,
    reason: info?.reason ?? null,
    domain: info?.domain ?? null,
    metadata: { ...info?.metadata },
    retryDelayMs: retry?.retryDelay === undefined ? null : durationMs(retry.retryDelay),
    fieldViolations: bad?.fieldViolations.map((v) => v.field) ?? [],
  };
}

export const connectReaderOf = connectReader((baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }));
export const grpcWebReader = connectReader((baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }));

/** The exact grpcurl arguments of a call (also what docs/clients.md shows). */
export function grpcurlArgs(address: string, call: ErrorCall): string[] {
  const headers = Object.entries(call.metadata ?? {}).flatMap(([k, v]) => ["-H", `${k}: ${v}`]);
  return ["-plaintext", "-format-error", "-max-time", String(CALL_TIMEOUT_MS / 1000), ...headers, "-d", JSON.stringify(call.request ?? {}), address, `${CircuitService.typeName}/${call.method}`];
}

/** Runs grpcurl; resolves with its exit code, stdout and stderr. */
export function runGrpcurl(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(`${root}.tools/bin/grpcurl`, args, { encoding: "utf8" }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") return reject(err);
      resolve({ exitCode: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
    });
  });
}

/** grpcurl -format-error prints the google.rpc.Status as JSON on stderr; details by "@type". */
export const grpcurlReader: Reader = async (server, calls) => {
  const out: Observed[] = [];
  for (const call of calls) {
    if (call.raw !== undefined) throw new Error("grpcurl cannot send undecodable bytes");
    const { exitCode, stderr } = await runGrpcurl(grpcurlArgs(server.grpcAddress, call));
    if (exitCode === 0) {
      out.push(OK);
      continue;
    }
    const status = JSON.parse(stderr.slice(stderr.indexOf("{"))) as { code: number; details?: Record<string, unknown>[] };
    const o: Observed = { code: status.code, reason: null, domain: null, metadata: {}, retryDelayMs: null, fieldViolations: [] };
    for (const d of status.details ?? []) {
      if (d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo") {
        Object.assign(o, { reason: d.reason, domain: d.domain, metadata: d.metadata ?? {} });
      } else if (d["@type"] === "type.googleapis.com/google.rpc.RetryInfo") {
        o.retryDelayMs = Math.round(Number.parseFloat(String(d.retryDelay)) * 1000);
      } else if (d["@type"] === "type.googleapis.com/google.rpc.BadRequest") {
        o.fieldViolations = ((d.fieldViolations ?? []) as { field: string }[]).map((v) => v.field);
      }
    }
    out.push(o);
  }
  return out;
};

/** Runs a reader program with `calls` as JSON on stdin; one JSON line per call on stdout. */
function processReader(command: () => { file: string; args: string[]; env?: Record<string, string> }): Reader {
  return async (server, calls) => {
    const { file, args, env } = command();
    const { stdout } = await runWithStdin(file, [...args, server.grpcAddress], JSON.stringify(calls), env);
    const lines = stdout.split("\n").filter((l) => l !== "");
    return lines.map((l) => {
      const o = JSON.parse(l) as Partial<Observed> & { code: number };
      return o.code === 0 ? OK : { code: o.code, reason: o.reason ?? null, domain: o.domain ?? null, metadata: o.metadata ?? {}, retryDelayMs: o.retryDelayMs ?? null, fieldViolations: o.fieldViolations ?? [] };
    });
  };
}

function runWithStdin(file: string, args: string[], stdin: string, env?: Record<string, string>): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve({ stdout }) : reject(new Error(`${file} exited ${code}: ${stderr}`))));
    child.stdin.end(stdin);
  });
}

/** The venv scripts/install-python-example.sh builds (the breakerbox package with its stubs, grpcio-status). */
export const PYTHON_VENV = `${root}.tools/python-agent-venv`;
export const pythonReader = processReader(() => ({
  file: `${PYTHON_VENV}/bin/python`,
  args: [fileURLToPath(new URL("python/read_errors.py", import.meta.url))],
}));

/** The Go reader binary; set by {@link buildGoReader}. */
let goBinary: string | undefined;
export const GO_READER_DIR = fileURLToPath(new URL("go", import.meta.url));
/** Builds go/ into `output` (the first build downloads grpc-go through the module proxy). */
export async function buildGoReader(output: string): Promise<void> {
  await promisify(execFile)("go", ["build", "-o", output, "."], { cwd: GO_READER_DIR, timeout: 280_000 });
  goBinary = output;
}
export const goReader = processReader(() => {
  if (goBinary === undefined) throw new Error("call buildGoReader first");
  return { file: goBinary, args: [] };
});

export const READERS: Readonly<Record<ReaderName, Reader>> = {
  "grpc-js": grpcJsReader,
  connect: connectReaderOf,
  "grpc-web": grpcWebReader,
  grpcurl: grpcurlReader,
  python: pythonReader,
  go: goReader,
};
