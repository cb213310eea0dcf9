/**
 * Reads the Dockerfile into its stages and instructions, and builds an
 * image's filesystem layout without Docker: base images cannot be pulled on
 * the machines this project is tested on, so test/deploy/container-image.test.ts
 * follows the Dockerfile's COPY and RUN steps in temporary directories on this
 * machine's Node 24 instead. Only the instructions the Dockerfile uses are
 * understood; any other is an error, so a new one cannot be skipped silently.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

const KNOWN = new Set(["FROM", "WORKDIR", "COPY", "RUN", "ENV", "EXPOSE", "USER", "HEALTHCHECK", "CMD"]);

/** The Dockerfile's stages, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i]!;
    if (/^\s*(#|$)/.test(logical)) continue;
    while (logical.endsWith("\\") && i + 1 < lines.length) logical = `${logical.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(logical);
    if (m === null) throw new Error(`Dockerfile line ${start + 1}: cannot read ${JSON.stringify(logical)}`);
    const op = m[1]!.toUpperCase();
    if (!KNOWN.has(op)) throw new Error(`Dockerfile line ${start + 1}: ${op} is not followed by test/deploy/dockerfile.ts`);
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2]!.trim())!;
      stages.push({ image: f[1]!, ...(f[2] === undefined ? {} : { name: f[2] }), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile line ${start + 1}: ${op} before FROM`);
      stages.at(-1)!.instructions.push({ op, args: m[2]!.trim(), line: start + 1 });
    }
  }
  return stages;
}

/** ENV's `K=V K2="V 2"` pairs (the form the Dockerfile uses). */
export function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    env[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return env;
}

/** A JSON-array (exec form) CMD, or a shell-form one as ["sh", "-c", ...]. */
export function parseCommand(args: string): string[] {
  return args.startsWith("[") ? (JSON.parse(args) as string[]) : ["sh", "-c", args];
}

export interface BuiltStage {
  /** Where the stage's WORKDIR is on this machine. */
  dir: string;
  env: Record<string, string>;
  stage: Stage;
}

/**
 * Follows one stage: WORKDIR is `root/<stage>/<workdir>`, COPY takes from
 * `context` (or, with --from, an earlier built stage), RUN runs with `sh -c`
 * on `path` first on PATH, ENV accumulates. Paths a COPY names must exist.
 */
export function buildStage(stage: Stage, opts: { context: string; root: string; built: Map<string, BuiltStage>; path: string }): BuiltStage {
  const stageRoot = join(opts.root, stage.name ?? "final");
  let dir = stageRoot;
  let workdir = "/";
  const env: Record<string, string> = {};
  const inStage = (p: string) => (p.startsWith("/") ? join(stageRoot, p) : join(dir, p));
  for (const ins of stage.instructions) {
    switch (ins.op) {
      case "WORKDIR":
        workdir = resolve(workdir, ins.args);
        dir = join(stageRoot, workdir);
        mkdirSync(dir, { recursive: true });
        break;
      case "ENV":
        Object.assign(env, parseEnv(ins.args));
        break;
      case "COPY": {
        const words = ins.args.split(/\s+/);
        const from = words[0]!.startsWith("--from=") ? words.shift()!.slice("--from=".length) : undefined;
        const dest = words.pop()!;
        for (const src of words) {
          let source: string;
          if (from === undefined) {
            source = join(opts.context, src);
          } else {
            const earlier = opts.built.get(from);
            if (earlier === undefined) throw new Error(`Dockerfile line ${ins.line}: no stage ${from} before it`);
            source = join(opts.root, from, src);
          }
          if (!existsSync(source)) throw new Error(`Dockerfile line ${ins.line}: COPY ${src}: not in ${from === undefined ? "the build context" : `stage ${from}`}`);
          const target = dest.endsWith("/") || words.length > 1 ? join(inStage(dest), src.split("/").pop()!) : inStage(dest);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(source, target, { recursive: true, verbatimSymlinks: true, filter: (s) => from !== undefined || !ignoredByDockerignore(opts.context, s) });
        }
        break;
      }
      case "RUN":
        try {
          execFileSync("sh", ["-c", ins.args], {
            cwd: dir,
            stdio: "pipe",
            env: { ...process.env, ...env, PATH: `${opts.path}:${process.env.PATH ?? ""}`, npm_config_update_notifier: "false" },
            maxBuffer: 64 * 1024 * 1024,
          });
        } catch (err) {
          const e = err as { stdout?: Buffer; stderr?: Buffer };
          const tail = `${e.stdout?.toString() ?? ""}${e.stderr?.toString() ?? ""}`.trim().split("\n").slice(-15).join("\n");
          throw new Error(`Dockerfile line ${ins.line}: RUN ${ins.args} failed:\n${tail}`);
        }
        break;
      default:
        break; // EXPOSE, USER, HEALTHCHECK, CMD: read by the test, nothing to build.
    }
  }
  void workdir;
  return { dir, env, stage };
}

let ignoreCache: { context: string; patterns: string[] } | undefined;

/**
 * True when `path` (in `context`) is excluded by .dockerignore, as Docker
 * matches: a pattern is a path from the context's root (`dist` is only the
 * top-level dist/), and a pattern starting with two stars and a slash is its name at any depth. Only these two forms
 * (the ones ours uses) are understood.
 */
function ignoredByDockerignore(context: string, path: string): boolean {
  if (ignoreCache?.context !== context) {
    const file = join(context, ".dockerignore");
    const patterns = existsSync(file) ? readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")) : [];
    ignoreCache = { context, patterns };
  }
  const rel = relative(context, path);
  const parts = rel.split("/");
  return ignoreCache.patterns.some((p) =>
    p.startsWith("**/") ? parts.includes(p.slice(3)) : rel === p || rel.startsWith(`${p}/`),
  );
}
