/**
 * The fuzz case generator shared by test/e2e/fuzz.test.ts (a bounded run in
 * `npm test`) and bench/fuzz.mjs (a long run): from a seed, an endless,
 * repeatable sequence of requests for every CircuitService method, for the
 * gRPC port (raw frames, often malformed) and the HTTP port (Connect JSON and
 * binary bodies, often malformed).
 *
 * A case starts as a request message built from the method's descriptor
 * (random field values from pools of edge values: names of 0, 1, 200, 201,
 * 10,000 and 1 MB characters, odd Unicode, NULs, glob metacharacters, huge
 * and negative numbers, out-of-range enums) or, for the hot path, as a
 * well-formed Acquire/Report/admin call on a few shared circuits so that
 * circuits really trip, probe and close. Then it may be mutated: bytes
 * flipped, inserted or cut, wrong wire types, truncated varints, huge length
 * prefixes, unknown fields, repeated singular fields, invalid UTF-8, deep
 * group nesting; gRPC frames with a bad compressed flag, a length prefix
 * larger than the body, a cut header, two messages or an oversized one;
 * Connect bodies that are not JSON, have wrong types, huge numbers, deep
 * nesting or the wrong content-type.
 *
 * The module takes the CircuitService descriptor as an argument (the test
 * passes gen/ts's, the bench dist/gen/ts's) and imports only @bufbuild/protobuf.
 */
import { create, toBinary, toJson, ScalarType } from "@bufbuild/protobuf";
import { mulberry32 } from "./mulberry32.mjs";

/** The circuits the well-formed traffic shares, so that they see real transitions. */
export const POOL_CIRCUITS = Object.freeze(["fz-0", "fz-1", "fz-2", "fz-3", "fz.grp/a", "fz.grp/b"]);

const MB = 1024 * 1024;

/** Makes the random helpers over one PRNG. */
function helpers(rand) {
  const int = (n) => Math.floor(rand() * n);
  const pick = (xs) => xs[int(xs.length)];
  const chance = (p) => rand() < p;
  return { rand, int, pick, chance };
}

/** A string from the edge pool; 1 MB and 10,000-character names are drawn rarely (they cost time on both sides). */
function oddString(r, permits) {
  const roll = r.rand();
  if (roll < 0.002) return "m".repeat(MB);
  if (roll < 0.01) return "t".repeat(10_000);
  if (roll < 0.3) return r.pick(POOL_CIRCUITS);
  if (roll < 0.35 && permits.length > 0) return r.pick(permits);
  return r.pick([
    "",
    "a",
    "a".repeat(200),
    "a".repeat(201),
    "*a*a*a*a*b",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "fz-*",
    "fz.grp/*",
    "*",
    "**",
    "?",
    "[a-z]",
    "a\u0000b",
    "\u0000",
    "ü",
    "名前",
    "🙂🙂",
    "\u202etxt.exe",
    "a\u200bb",
    "\ud800",
    "e\u0301",
    "has space",
    "../../etc/passwd",
    "fz-0\n",
    "%00",
    "a".repeat(199) + "é",
    "v1.a.b.c.d",
  ]);
}

const INT_EDGES = [0, 1, 2, 3, 5, 10, 100, 1000, 1001, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -1, -(2 ** 31)];
const DOUBLE_EDGES = [0, 0.5, 1, 1.5, -0.1, 1e-300, 1e308, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, -0];

/** A value for a scalar field of protobuf type `t`. */
function scalarValue(r, t, permits) {
  switch (t) {
    case ScalarType.STRING:
      return oddString(r, permits);
    case ScalarType.BOOL:
      return r.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return r.pick(DOUBLE_EDGES);
    case ScalarType.BYTES:
      return new Uint8Array(r.int(8)).map(() => r.int(256));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return r.pick([0n, 1n, -1n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n, 315_576_000_001n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return r.pick([0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return r.pick(INT_EDGES.filter((n) => n >= 0 && n < 2 ** 32));
    default:
      return r.pick(INT_EDGES.filter((n) => n >= -(2 ** 31) && n < 2 ** 31));
  }
}

/** A value of enum `e`: a known one mostly, else out of range. */
function enumValue(r, e) {
  if (r.chance(0.8)) return r.pick(e.values).number;
  return r.pick([99, -1, 2 ** 31 - 1, 7]);
}

/** A random init object for message `desc`, `depth` levels deep at most. */
function randomInit(r, desc, permits, depth) {
  if (desc.typeName === "google.protobuf.Duration" || desc.typeName === "google.protobuf.Timestamp") {
    return {
      seconds: r.pick([0n, 1n, 60n, -5n, 315_576_000_000n, 315_576_000_001n, 2n ** 62n]),
      nanos: r.pick([0, 1, 999_999_999, 1_000_000_000, -1]),
    };
  }
  if (desc.typeName === "google.protobuf.FieldMask") {
    return { paths: Array.from({ length: r.int(3) }, () => r.pick(["failure_threshold", "window", "bogus", "", "config.mode", "*"])) };
  }
  const init = {};
  const value = (field) => {
    switch (field.fieldKind === "list" ? field.listKind : field.fieldKind) {
      case "scalar":
        return scalarValue(r, field.scalar, permits);
      case "enum":
        return enumValue(r, field.enum);
      case "message":
        return depth > 0 ? randomInit(r, field.message, permits, depth - 1) : {};
      default:
        return undefined;
    }
  };
  for (const field of desc.fields) {
    if (!r.chance(0.7)) continue;
    if (field.oneof !== undefined) {
      if (init[field.oneof.localName] !== undefined) continue;
      const v = value(field);
      if (v !== undefined) init[field.oneof.localName] = { case: field.localName, value: v };
    } else if (field.fieldKind === "list") {
      const n = r.chance(0.05) ? r.pick([200, 1001]) : r.int(4);
      const items = [];
      for (let i = 0; i < n; i++) items.push(value(field));
      init[field.localName] = items;
    } else if (field.fieldKind !== "map") {
      const v = value(field);
      if (v !== undefined) init[field.localName] = v;
    }
  }
  return init;
}

/** A well-formed call on the shared circuits, so the run drives real transitions. */
function wellFormed(r, service, permits) {
  const m = service.method;
  const circuit = r.pick(POOL_CIRCUITS);
  const roll = r.rand();
  const outcome = r.pick([2, 2, 2, 3, 1, 1, 4]);
  if (roll < 0.35) return { method: m.acquire, init: { circuit, agentInstanceId: r.pick(["", "i-1", "i-2"]) } };
  if (roll < 0.4) return { method: m.acquireAny, init: { circuits: [circuit, r.pick(POOL_CIRCUITS)] } };
  if (roll < 0.7 && permits.length > 0) {
    const permit = r.pick(permits);
    return {
      method: m.report,
      init: { circuit: permitCircuit(permit) ?? circuit, permit, outcome, duration: { seconds: BigInt(r.int(3)), nanos: 0 } },
    };
  }
  if (roll < 0.75 && permits.length > 0) {
    const reports = Array.from({ length: 1 + r.int(4) }, () => {
      const permit = r.pick(permits);
      return { circuit: permitCircuit(permit) ?? circuit, permit, outcome };
    });
    return { method: m.batchReport, init: { reports } };
  }
  if (roll < 0.8) return { method: m.getState, init: { circuit } };
  if (roll < 0.83) return { method: m.reset, init: { circuit } };
  if (roll < 0.86) return { method: m.forceState, init: { circuit, pin: r.pick([0, 1, 2, 3]) } };
  if (roll < 0.92) {
    return {
      method: m.configure,
      init: {
        target: { case: "circuit", value: circuit },
        config: {
          failureThreshold: r.pick([1, 2, 3]),
          halfOpenMaxCalls: r.pick([1, 2]),
          successThreshold: r.pick([1, 2]),
          openDuration: { seconds: 0n, nanos: r.pick([1_000_000, 50_000_000]) },
          mode: r.pick([0, 1, 2]),
          enabled: r.chance(0.9),
        },
      },
    };
  }
  if (roll < 0.95) return { method: m.getHistory, init: { circuit, pageSize: r.pick([0, 1, 5]) } };
  return { method: m.listCircuits, init: { prefix: r.pick(["", "fz", "fz-"]), pageSize: r.pick([0, 2, 1000]) } };
}

/** The circuit a permit the pool holds was issued for (the runner records it alongside). */
const permitCircuits = new Map();
function permitCircuit(permit) {
  return permitCircuits.get(permit);
}

/** Remembers which circuit `permit` belongs to (called by the runner for every granted permit). */
export function notePermit(permit, circuit) {
  permitCircuits.set(permit, circuit);
  if (permitCircuits.size > 10_000) permitCircuits.delete(permitCircuits.keys().next().value);
}

/** Varint encoding of a non-negative bigint or number. */
function varint(n) {
  let v = BigInt(n);
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** A byte-level mutation of an encoded message; returns [label, bytes]. */
function mutateBytes(r, bytes) {
  const b = [...bytes];
  const tag = (field, wire) => varint((field << 3) | wire);
  const field = 1 + r.int(8);
  const mutations = [
    ["flip", () => {
      for (let i = 0, n = 1 + r.int(4); i < n && b.length > 0; i++) b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    }],
    ["cut", () => b.slice(0, r.int(b.length + 1))],
    ["insert", () => {
      b.splice(r.int(b.length + 1), 0, ...Array.from({ length: 1 + r.int(6) }, () => r.int(256)));
      return b;
    }],
    ["wrong-wire-type", () => [...tag(field, r.pick([0, 1, 5])), ...(r.chance(0.5) ? varint(7) : [1, 2, 3, 4, 5, 6, 7, 8]), ...b]],
    ["truncated-varint", () => [...b, ...tag(field, 0), 0x80, 0x80, 0x80]],
    ["huge-length", () => [...b, ...tag(field, 2), ...varint(r.pick([2 ** 31, 2 ** 32 - 1, 2 ** 35, 1_000_000])), 0x61]],
    ["unknown-field", () => [...b, ...tag(1000 + r.int(100_000), 2), ...varint(3), 0x61, 0x62, 0x63]],
    ["repeated-singular", () => [...b, ...b]],
    ["invalid-utf8", () => [...tag(1, 2), 3, 0xc3, 0x28, 0xff, ...b]],
    ["enum-out-of-range", () => [...b, ...tag(field, 0), ...varint(r.pick([99n, 2n ** 64n - 1n, 2n ** 31n]))]],
    ["deep-groups", () => {
      const n = r.pick([100, 10_000]);
      const open = tag(20, 3);
      const close = tag(20, 4);
      return [...b, ...Array.from({ length: n }, () => open).flat(), ...Array.from({ length: n }, () => close).flat()];
    }],
    ["garbage", () => Array.from({ length: r.int(64) }, () => r.int(256))],
  ];
  const [label, f] = r.pick(mutations);
  return [label, Uint8Array.from(f())];
}

/** Wraps `message` in a gRPC length-prefixed frame, possibly malformed; returns [label, frame]. */
function frame(r, message, maxMessageBytes) {
  const header = (flag, length) => {
    const h = new Uint8Array(5);
    h[0] = flag;
    new DataView(h.buffer).setUint32(1, length >>> 0);
    return h;
  };
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), (o += p.length));
    return out;
  };
  if (!r.chance(0.15)) return ["", cat(header(0, message.length), message)];
  const kinds = [
    ["compressed-flag", () => cat(header(1, message.length), message)],
    ["bad-flag", () => cat(header(r.pick([2, 0x80, 0xff]), message.length), message)],
    ["length-beyond-body", () => cat(header(0, message.length + 1 + r.int(1000)), message)],
    ["length-short", () => cat(header(0, Math.max(0, message.length - 1)), message)],
    ["cut-header", () => header(0, message.length).slice(0, r.int(5))],
    ["no-frame", () => new Uint8Array(0)],
    ["two-messages", () => cat(header(0, message.length), message, header(0, message.length), message)],
    ["huge-length-prefix", () => cat(header(0, 0xffffffff), message)],
  ];
  // Oversized messages cost the machine 4 MB each way: rare.
  if (r.chance(0.02)) return ["oversized", cat(header(0, maxMessageBytes + 1), new Uint8Array(maxMessageBytes + 1))];
  const [label, f] = r.pick(kinds);
  return [label, f()];
}

/** Connect JSON body mutations; returns [label, body]. */
function mutateJson(r, json) {
  const text = JSON.stringify(json);
  const deep = (n) => "{\"a\":".repeat(n) + "1" + "}".repeat(n);
  const kinds = [
    ["json-garbage", () => r.pick(["{", "}", "[]", "null", "\"x\"", "{\"circuit\":}", "\u0000", "{\"circuit\":\"a\"} trailing", ""])],
    ["json-cut", () => text.slice(0, r.int(text.length + 1))],
    ["json-wrong-types", () => JSON.stringify({ circuit: r.pick([5, true, [], {}, null]), pageSize: r.pick(["x", -1, 1.5, [], true]), outcome: r.pick(["OUTCOME_NOPE", 99, {}]) })],
    ["json-huge-numbers", () => `{"pageSize": ${r.pick(["1e400", "99999999999999999999", "-0", "1e-400", "4294967296"])}, "circuit": "fz-0"}`],
    ["json-deep", () => `{"circuit":"fz-0","unknownField":${deep(r.pick([100, 10_000]))}}`],
    ["json-deep-array", () => `{"circuits":${"[".repeat(5000)}${"]".repeat(5000)}}`],
    ["json-unknown-field", () => JSON.stringify({ ...json, bogus_field: 1 })],
    ["json-duplicate-keys", () => text.length > 2 ? `{"circuit":"fz-1",${text.slice(1)}` : text],
    ["json-bad-escape", () => `{"circuit":"\\ud800\\u0000\\x"}`],
  ];
  const [label, f] = r.pick(kinds);
  return [label, f()];
}

/**
 * The case generator: `next(permits)` returns the next case, given the
 * permits granted so far (the runner keeps them). Cases:
 * - `{ port: "grpc", method, path, frame, metadata, label, request? }`
 * - `{ port: "http", method, path, body, contentType, metadata, label, request? }`
 * `request` is the message the body encodes when it is one that decodes.
 */
export function createFuzzGenerator({ service, seed, maxMessageBytes = 4 * MB, authorization = {} }) {
  const r = helpers(mulberry32(seed));
  const methods = service.methods;
  const auth = () => {
    const roll = r.rand();
    if (roll < 0.9 || authorization.admin === undefined) return authorization.admin === undefined ? {} : { authorization: `Bearer ${authorization.admin}` };
    if (roll < 0.95 && authorization.agent !== undefined) return { authorization: `Bearer ${authorization.agent}` };
    return r.pick([{}, { authorization: "Bearer nope" }, { authorization: "Basic eA==" }, { authorization: "Bearer " }]);
  };
  return {
    next(permits) {
      const wf = r.chance(0.45) ? wellFormed(r, service, permits) : undefined;
      const method = wf?.method ?? r.pick(methods);
      const init = wf?.init ?? randomInit(r, method.input, permits, 2);
      let request;
      try {
        request = create(method.input, init);
      } catch {
        request = create(method.input);
      }
      const path = `/${service.typeName}/${method.name}`;
      const metadata = auth();
      const mutate = wf === undefined ? r.chance(0.5) : r.chance(0.05);
      const kindLabel = wf === undefined ? "random" : "well-formed";
      if (method.methodKind === "server_streaming" || r.chance(0.6)) {
        let bytes = toBinary(method.input, request);
        let label = kindLabel;
        if (mutate) [label, bytes] = mutateBytes(r, bytes);
        const [frameLabel, body] = frame(r, bytes, maxMessageBytes);
        return { port: "grpc", method, path, frame: body, framing: frameLabel, metadata, label: `${label}${frameLabel === "" ? "" : `+${frameLabel}`}`, request: mutate ? undefined : request };
      }
      if (r.chance(0.5)) {
        let body = toBinary(method.input, request);
        let label = `${kindLabel}/proto`;
        if (mutate) [label, body] = mutateBytes(r, body);
        const contentType = r.chance(0.97) ? "application/proto" : r.pick(["text/plain", "application/x-protobuf", "application/json; charset=latin1", ""]);
        return { port: "http", method, path, body, contentType, metadata, label: contentType === "application/proto" ? label : `${label}+content-type`, request: mutate ? undefined : request };
      }
      let json;
      try {
        json = toJson(method.input, request);
      } catch {
        json = {};
      }
      let body = JSON.stringify(json);
      let label = `${kindLabel}/json`;
      if (mutate) [label, body] = mutateJson(r, json);
      const contentType = r.chance(0.97) ? "application/json" : r.pick(["text/plain", "application/xml", "application/proto"]);
      return { port: "http", method, path, body, contentType, metadata, label: contentType === "application/json" ? label : `${label}+content-type`, request: mutate ? undefined : request };
    },
  };
}
