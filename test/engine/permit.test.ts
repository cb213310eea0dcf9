import { describe, expect, it } from "vitest";
import { circuitHash, decodePermit, encodePermit, newPermitStream, splitPermit, type Permit, type PermitKind } from "../../src/engine/index.js";
import { mulberry32, seedLabel, TEST_SEED } from "../conformance/random.js";

describe("circuitHash", () => {
  // FNV-1a 32-bit reference vectors, written in base 36.
  it.each([
    ["", 0x811c9dc5],
    ["a", 0xe40c292c],
    ["foobar", 0xbf9cf968],
  ])("is the 32-bit FNV-1a of %j in base 36", (name, fnv) => {
    expect(circuitHash(name)).toBe(fnv.toString(36));
  });

  it("is stable for a circuit name across calls and releases", () => {
    expect(circuitHash("agent.researcher")).toBe("evdnn2");
    expect(circuitHash("llm.openai.gpt")).toBe("98xp97");
    expect(circuitHash("agent.researcher")).toBe(circuitHash("agent.researcher"));
  });

  it("tells names that differ in one character apart", () => {
    expect(circuitHash("agent.a")).not.toBe(circuitHash("agent.b"));
    expect(circuitHash("agent.a")).not.toBe(circuitHash("agent.A"));
  });
});

describe("legacy permit tokens (5 fields, nonce)", () => {
  const sample: Permit = {
    circuitHash: circuitHash("agent.researcher"),
    generation: 42,
    kind: "probe",
    expiresAt: 1_700_000_030_000,
    nonce: "abc123",
  };

  it("encodes as hash.generation.kind.expiry.nonce with numbers in base 36", () => {
    expect(encodePermit(sample)).toBe("evdnn2.16.p.loyw4i7k.abc123");
  });

  it.each<[PermitKind, string]>([
    ["closed", "c"],
    ["probe", "p"],
    ["shadow", "s"],
    ["disabled", "d"],
  ])("round-trips a %s permit (kind letter %s)", (kind, letter) => {
    const permit = { ...sample, kind };
    const token = encodePermit(permit);
    expect(token.split(".")[2]).toBe(letter);
    expect(decodePermit(token)).toEqual(permit);
  });

  it("round-trips generation 0, the largest hash and a 32-character nonce", () => {
    const permit: Permit = { circuitHash: (0xffffffff).toString(36), generation: 0, kind: "closed", expiresAt: 0, nonce: "z".repeat(32) };
    expect(decodePermit(encodePermit(permit))).toEqual(permit);
  });

  it(`round-trips random permits (${seedLabel(TEST_SEED)})`, () => {
    const rand = mulberry32(TEST_SEED);
    const kinds: PermitKind[] = ["closed", "probe", "shadow", "disabled"];
    for (let i = 0; i < 500; i++) {
      const permit: Permit = {
        circuitHash: circuitHash(`c${Math.floor(rand() * 1e9)}`),
        generation: Math.floor(rand() * 2 ** 40),
        kind: kinds[Math.floor(rand() * 4)]!,
        expiresAt: 1_600_000_000_000 + Math.floor(rand() * 1e12),
        nonce: Math.floor(rand() * 2 ** 50).toString(36),
      };
      expect(decodePermit(encodePermit(permit)), `permit #${i}`).toEqual(permit);
    }
  });

  it.each([
    ["an empty string", ""],
    ["a word", "permit"],
    ["four fields", "evdnn2.16.p.loyw4i7k"],
    ["six fields", "evdnn2.16.p.loyw4i7k.abc123.x"],
    ["an unknown kind letter", "evdnn2.16.x.loyw4i7k.abc123"],
    ["upper case", "EVDNN2.16.p.loyw4i7k.abc123"],
    ["an 8-character hash", "evdnn2ab.16.p.loyw4i7k.abc123"],
    ["a 12-digit generation", "evdnn2.123456789012.p.loyw4i7k.abc123"],
    ["a 33-character nonce", `evdnn2.16.p.loyw4i7k.${"a".repeat(33)}`],
    ["an empty nonce", "evdnn2.16.p.loyw4i7k."],
    ["a negative generation", "evdnn2.-16.p.loyw4i7k.abc123"],
    ["surrounding spaces", " evdnn2.16.p.loyw4i7k.abc123 "],
    ["a trailing newline", "evdnn2.16.p.loyw4i7k.abc123\n"],
    ["a JSON object", '{"permit":"evdnn2.16.p.loyw4i7k.abc123"}'],
  ])("rejects %s", (_what, token) => {
    expect(decodePermit(token)).toBeUndefined();
  });

  // Each decodes under parseInt to the sample permit: accepting any would make
  // one permit many strings, each counted as a new outcome.
  it.each([
    ["a leading zero on the hash", "0evdnn2.16.p.loyw4i7k.abc123"],
    ["a leading zero on the generation", "evdnn2.016.p.loyw4i7k.abc123"],
    ["a leading zero on the expiry", "evdnn2.16.p.0loyw4i7k.abc123"],
    ["generation zero spelled 00", "evdnn2.00.p.loyw4i7k.abc123"],
  ])("rejects a non-canonical spelling: %s", (_what, token) => {
    expect(decodePermit(token)).toBeUndefined();
  });

  it("rejects a number past 2^53 that would not re-encode to the same text", () => {
    expect(decodePermit("evdnn2.zzzzzzzzzzz.p.loyw4i7k.abc123")).toBeUndefined();
  });
});

describe("permit tokens (stream and seq)", () => {
  const sample: Permit = {
    circuitHash: circuitHash("agent.researcher"),
    generation: 42,
    kind: "probe",
    expiresAt: 1_700_000_030_000,
    stream: "0a1b2c3d4e",
    seq: 100,
  };

  it("encodes as hash.generation.kind.expiry.stream.seq with numbers in base 36", () => {
    expect(encodePermit(sample)).toBe("evdnn2.16.p.loyw4i7k.0a1b2c3d4e.2s");
    expect(decodePermit("evdnn2.16.p.loyw4i7k.0a1b2c3d4e.2s")).toEqual(sample);
  });

  it("round-trips seq 0 and the largest exact seq", () => {
    for (const seq of [0, 2 ** 53 - 1]) expect(decodePermit(encodePermit({ ...sample, seq }))).toEqual({ ...sample, seq });
  });

  it(`round-trips random permits (${seedLabel(TEST_SEED)})`, () => {
    const rand = mulberry32(TEST_SEED);
    const kinds: PermitKind[] = ["closed", "probe", "shadow", "disabled"];
    for (let i = 0; i < 500; i++) {
      const permit: Permit = {
        circuitHash: circuitHash(`c${Math.floor(rand() * 1e9)}`),
        generation: Math.floor(rand() * 2 ** 40),
        kind: kinds[Math.floor(rand() * 4)]!,
        expiresAt: 1_600_000_000_000 + Math.floor(rand() * 1e12),
        stream: newPermitStream(),
        seq: Math.floor(rand() * 2 ** 50),
      };
      expect(decodePermit(encodePermit(permit)), `permit #${i}`).toEqual(permit);
    }
  });

  it.each([
    ["a 9-character stream", "evdnn2.16.p.loyw4i7k.0a1b2c3d4.2s"],
    ["an 11-character stream", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e5.2s"],
    ["an empty seq", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e."],
    ["a leading zero on the seq", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e.02s"],
    ["seq zero spelled 00", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e.00"],
    ["a seq past 2^53", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e.zzzzzzzzzzz"],
    ["seven fields", "evdnn2.16.p.loyw4i7k.0a1b2c3d4e.2s.x"],
    ["an upper-case stream", "evdnn2.16.p.loyw4i7k.0A1B2C3D4E.2s"],
  ])("rejects %s", (_what, token) => {
    expect(decodePermit(token)).toBeUndefined();
  });

  it("makes random 10-character base-36 stream ids", () => {
    const ids = Array.from({ length: 1000 }, () => newPermitStream());
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{10}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});

describe("splitPermit", () => {
  const mac = "A".repeat(21) + "w";
  it("splits a signed token into body and 22-character MAC", () => {
    expect(splitPermit(`evdnn2.16.p.loyw4i7k.abc123.${mac}`)).toEqual({ body: "evdnn2.16.p.loyw4i7k.abc123", mac });
    expect(splitPermit(`evdnn2.16.p.loyw4i7k.0a1b2c3d4e.2s.${mac}`)).toEqual({ body: "evdnn2.16.p.loyw4i7k.0a1b2c3d4e.2s", mac });
  });
  it.each([
    ["no MAC", "evdnn2.16.p.loyw4i7k.abc123"],
    ["a 21-character MAC", `evdnn2.16.p.loyw4i7k.abc123.${mac.slice(1)}`],
    ["a 23-character MAC", `evdnn2.16.p.loyw4i7k.abc123.${mac}A`],
    ["padding", `evdnn2.16.p.loyw4i7k.abc123.${mac.slice(2)}==`],
  ])("refuses %s", (_what, token) => {
    expect(splitPermit(token)).toBeUndefined();
  });
});
