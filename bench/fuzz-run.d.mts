/** Types of fuzz-run.mjs for the TypeScript test that imports it. */
import type { DescMessage, DescService } from "@bufbuild/protobuf";

export interface FuzzViolation {
  index: number;
  port: "grpc" | "http";
  method: string;
  label: string;
  why: string;
}

export interface FuzzResult {
  seed: number;
  iterations: number;
  /** "grpc OK", "http INVALID_ARGUMENT", "http http-415", ... → answers. */
  counts: Record<string, number>;
  violations: FuzzViolation[];
  violationCount: number;
  /** Every violation kind (digits folded): how many, and the first case's index, label and method. */
  kinds: Record<string, { count: number; first: number; label: string; method: string }>;
  /** Liveness probes between batches: every one must be answered. */
  probes: { sent: number; answered: number; failures: { at: number; grpcHealth: string; healthz: string }[] };
}

export interface FuzzOptions {
  service: DescService;
  statusSchema: DescMessage;
  errorInfoSchema: DescMessage;
  seed: number;
  iterations: number;
  grpcAddress: string;
  httpUrl: string;
  authorization?: { admin?: string; agent?: string };
  probeEvery?: number;
  maxViolations?: number;
  answerTimeoutMs?: number;
  onProgress?: (done: number, counts: Record<string, number>) => void;
}

export const DOCUMENTED_CODES: ReadonlySet<number>;
export function runFuzz(options: FuzzOptions): Promise<FuzzResult>;
export function codeName(code: number): string;
