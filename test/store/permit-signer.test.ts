import { describe, expect, it } from "vitest";
import { PermitRejectedError, circuitHash, encodePermit, type PermitProblem } from "../../src/engine/index.js";
import { createPermitSigner, randomPermitSecret } from "../../src/store/permit-signer.js";

const SECRET = Buffer.alloc(32, 1);
const OTHER = Buffer.alloc(32, 2);
const NAME = "agent.researcher";
const BODY = encodePermit({ circuitHash: circuitHash(NAME), generation: 42, kind: "probe", expiresAt: 1_700_000_030_000, nonce: "abc123" });

function problemOf(f: () => unknown): PermitProblem | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(PermitRejectedError);
    return (err as PermitRejectedError).problem;
  }
}

describe("permit signer", () => {
  const signer = createPermitSigner(SECRET);

  it("signs a body as body.<22 base64url characters> and opens it to the body and fields", () => {
    const token = signer.sign(NAME, BODY);
    expect(token).toMatch(new RegExp(`^${BODY.replace(/\./g, "\\.")}\\.[A-Za-z0-9_-]{22}$`));
    expect(signer.open(NAME, token)).toEqual({
      body: BODY,
      permit: { circuitHash: circuitHash(NAME), generation: 42, kind: "probe", expiresAt: 1_700_000_030_000, nonce: "abc123" },
    });
  });

  it("is deterministic for one secret and differs between secrets and circuits", () => {
    expect(signer.sign(NAME, BODY)).toBe(createPermitSigner(SECRET).sign(NAME, BODY));
    expect(signer.sign(NAME, BODY)).not.toBe(createPermitSigner(OTHER).sign(NAME, BODY));
  });

  it("refuses every one-character change of the MAC or nonce as bad-signature", () => {
    const token = signer.sign(NAME, BODY);
    const macStart = token.length - 22;
    const nonceStart = token.lastIndexOf("abc123");
    const positions = [...Array.from({ length: 22 }, (_, i) => macStart + i), ...Array.from({ length: 6 }, (_, i) => nonceStart + i)];
    for (const at of positions) {
      const alphabet = at >= macStart ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" : "0123456789abcdefghijklmnopqrstuvwxyz";
      for (const ch of alphabet) {
        if (ch === token[at]) continue;
        const mutated = token.slice(0, at) + ch + token.slice(at + 1);
        expect(problemOf(() => signer.open(NAME, mutated)), `${mutated}`).toBe("bad-signature");
      }
    }
  });

  it("refuses a permit of another circuit with the same 32-bit hash as bad-signature (the MAC binds the full name)", () => {
    expect(circuitHash("tool.7899e4ea0aef")).toBe(circuitHash("tool.e2afc2b32253"));
    const token = signer.sign("tool.7899e4ea0aef", BODY.replace(circuitHash(NAME), circuitHash("tool.7899e4ea0aef")));
    expect(problemOf(() => signer.open("tool.e2afc2b32253", token))).toBe("bad-signature");
  });

  it("refuses a permit whose hash is another circuit's as foreign, before the MAC", () => {
    expect(problemOf(() => signer.open("agent.other", signer.sign(NAME, BODY)))).toBe("foreign");
  });

  it.each([
    ["an unsigned body", BODY],
    ["a leading zero on the generation", (t: string) => t.replace(".16.", ".016.")],
    ["a leading zero on the expiry", (t: string) => t.replace(".p.", ".p.0")],
    ["a MAC one character short", (t: string) => t.slice(0, -1)],
    ["text", "not-a-permit"],
  ])("refuses %s as malformed", (_what, mutate) => {
    const token = typeof mutate === "string" ? mutate : mutate(signer.sign(NAME, BODY));
    expect(problemOf(() => signer.open(NAME, token))).toBe("malformed");
  });

  describe("rotation", () => {
    const old = createPermitSigner(OTHER);
    const rotated = createPermitSigner(SECRET, OTHER);

    it("opens permits signed with the previous secret and signs new ones with the current", () => {
      expect(rotated.open(NAME, old.sign(NAME, BODY)).body).toBe(BODY);
      expect(rotated.sign(NAME, BODY)).toBe(signer.sign(NAME, BODY));
    });

    it("refuses a permit signed with a secret it does not know", () => {
      expect(problemOf(() => rotated.open(NAME, createPermitSigner(Buffer.alloc(32, 3)).sign(NAME, BODY)))).toBe("bad-signature");
      expect(problemOf(() => signer.open(NAME, old.sign(NAME, BODY)))).toBe("bad-signature");
    });
  });

  it("refuses a secret shorter than 32 bytes, current or previous", () => {
    expect(() => createPermitSigner(Buffer.alloc(31))).toThrow(/at least 32 bytes, got 31/);
    expect(() => createPermitSigner(SECRET, Buffer.alloc(16))).toThrow(/at least 32 bytes, got 16/);
  });

  it("draws random 32-byte secrets", () => {
    expect(randomPermitSecret()).toHaveLength(32);
    expect(randomPermitSecret().equals(randomPermitSecret())).toBe(false);
  });
});
