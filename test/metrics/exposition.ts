/**
 * A strict parser of the Prometheus text exposition format (0.0.4), so tests
 * assert on samples and exact label sets instead of matching text loosely.
 * Anything it does not understand is an error, which also checks that what
 * /metrics serves is well-formed.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family name → type from its `# TYPE` line. */
  types: Map<string, string>;
  /** Metric family name → help text. */
  help: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan") return NaN;
  const n = Number(text);
  if (text === "" || Number.isNaN(n)) throw new Error(`bad sample value ${JSON.stringify(text)} in line ${JSON.stringify(line)}`);
  return n;
}

/** Parses one sample line: name, optional {labels}, value (timestamps are refused: we never send them). */
function parseSample(line: string): Sample {
  const nameMatch = NAME.exec(line);
  if (nameMatch === null) throw new Error(`no metric name in line ${JSON.stringify(line)}`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i += 1;
    while (line[i] !== "}") {
      const ln = LABEL_NAME.exec(line.slice(i));
      if (ln === null) throw new Error(`bad label name at ${i} in line ${JSON.stringify(line)}`);
      i += ln[0].length;
      if (line[i] !== "=" || line[i + 1] !== '"') throw new Error(`expected =" at ${i} in line ${JSON.stringify(line)}`);
      i += 2;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value in line ${JSON.stringify(line)}`);
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i + 1];
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else throw new Error(`bad escape \\${e} in line ${JSON.stringify(line)}`);
          i += 2;
        } else {
          value += c;
          i += 1;
        }
      }
      i += 1; // closing quote
      if (Object.hasOwn(labels, ln[0])) throw new Error(`label ${ln[0]} repeated in line ${JSON.stringify(line)}`);
      labels[ln[0]] = value;
      if (line[i] === ",") i += 1;
      else if (line[i] !== "}") throw new Error(`expected , or } at ${i} in line ${JSON.stringify(line)}`);
    }
    i += 1;
  }
  if (line[i] !== " ") throw new Error(`expected a space before the value in line ${JSON.stringify(line)}`);
  const rest = line.slice(i + 1);
  if (rest.includes(" ")) throw new Error(`unexpected timestamp or trailing text in line ${JSON.stringify(line)}`);
  return { name, labels, value: parseValue(rest, line) };
}

export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition does not end with a newline");
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const [name, ...words] = line.slice(7).split(" ");
      help.set(name!, words.join(" "));
    } else if (line.startsWith("# TYPE ")) {
      const [name, type, extra] = line.slice(7).split(" ");
      if (extra !== undefined || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) {
        throw new Error(`bad TYPE line ${JSON.stringify(line)}`);
      }
      if (types.has(name!)) throw new Error(`TYPE of ${name} given twice`);
      types.set(name!, type!);
    } else if (line.startsWith("#")) {
      continue;
    } else {
      const s = parseSample(line);
      const key = JSON.stringify([s.name, Object.entries(s.labels).sort()]);
      if (samples.some((o) => JSON.stringify([o.name, Object.entries(o.labels).sort()]) === key)) {
        throw new Error(`sample ${line} repeated`);
      }
      samples.push(s);
    }
  }
  return { samples, types, help };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * The value of the sample `name` with exactly `labels`, or undefined when
 * there is no such sample.
 */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
}

/** Every sample of `name` whose labels include `match`. */
export function samplesOf(e: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** circuit → state for the breakerbox_circuit_state series whose value is 1 (circuits with their own label). */
export function circuitStates(e: Exposition): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of samplesOf(e, "breakerbox_circuit_state")) {
    if (s.labels.circuit === "_other" || s.value !== 1) continue;
    const circuit = s.labels.circuit!;
    if (out[circuit] !== undefined) throw new Error(`circuit ${circuit} has two states set: ${out[circuit]} and ${s.labels.state}`);
    out[circuit] = s.labels.state!;
  }
  return out;
}

/** GET `${httpUrl}/metrics`, checks status and content type, and parses the body. */
export async function scrape(httpUrl: string): Promise<Exposition> {
  const res = await fetchRetryingReset(`${httpUrl}/metrics`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${body}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) throw new Error(`GET /metrics content-type ${type}`);
  return parseExposition(body);
}

/**
 * GET `url`, sent again once when the connection was reset before any answer.
 * fetch pools keep-alive sockets, and a scrape can be written to an idle
 * socket in the very millisecond its keep-alive ends (seen in
 * test/e2e/metrics.test.ts on a loaded machine: ECONNRESET within 10 ms of
 * the second pooled socket closing). The request never reached the server,
 * so sending it again is what any scraper does; every other failure stands.
 */
async function fetchRetryingReset(url: string): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (code !== "ECONNRESET" && code !== "UND_ERR_SOCKET") throw err;
    return fetch(url, { signal: AbortSignal.timeout(10_000) });
  }
}
