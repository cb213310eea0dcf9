import { describe, expect, it } from "vitest";
import { decodeToken, encodeToken, MAX_TOKEN_LENGTH } from "../../src/service/opaque-token.js";

describe("opaque tokens", () => {
  it("round-trips a position within the same kind and scope", () => {
    const token = encodeToken("circuits", ["agent.", "OPEN"], "agent.b");
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeToken("circuits", ["agent.", "OPEN"], token)).toEqual({ position: "agent.b" });
  });

  it("refuses a token bound to another scope or another kind", () => {
    const token = encodeToken("circuits", ["agent.", ""], "agent.b");
    expect(decodeToken("circuits", ["agent.", "OPEN"], token)).toEqual({ problem: "mismatch" });
    expect(decodeToken("circuits", ["tool.", ""], token)).toEqual({ problem: "mismatch" });
    expect(decodeToken("history", ["agent.", ""], token)).toEqual({ problem: "mismatch" });
  });

  it("tells a scope of two fields from one field holding both", () => {
    const token = encodeToken("watch", ["a", "b"], "1-0");
    expect(decodeToken("watch", ["ab"], token)).toEqual({ problem: "mismatch" });
    expect(decodeToken("watch", ["a,b"], token)).toEqual({ problem: "mismatch" });
  });

  it("refuses what it did not write", () => {
    for (const bad of ["", "not a token!", "YWJj", Buffer.from("[2,\"x\",\"y\"]").toString("base64url"), "A".repeat(MAX_TOKEN_LENGTH + 1)]) {
      expect(decodeToken("circuits", [], bad)).toEqual({ problem: "malformed" });
    }
  });

  // Tokens are not signed: a client can send any bytes. Found untested by a mutation run (docs/testing.md).
  it("refuses a well-formed token made longer than MAX_TOKEN_LENGTH, before parsing it", () => {
    const long = encodeToken("circuits", [], "p".repeat(MAX_TOKEN_LENGTH));
    expect(long.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect(decodeToken("circuits", [], long)).toEqual({ problem: "malformed" });
  });

  it("refuses a token with a character outside base64url before, inside or after it", () => {
    const token = encodeToken("circuits", [], "p");
    for (const bad of [`!${token}`, `${token}!`, `${token.slice(0, 4)}=${token.slice(4)}`, `${token}\n`]) {
      expect(decodeToken("circuits", [], bad), bad).toEqual({ problem: "malformed" });
    }
  });

  it("refuses a token whose JSON is not [version, digest string, position string]", () => {
    const [, digest] = JSON.parse(Buffer.from(encodeToken("circuits", [], "p"), "base64url").toString("utf8")) as [number, string, string];
    const forge = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const bad of [[1, digest, 7], [1, 5, "p"], [1, digest, "p", "x"], [1, digest], { 0: 1, 1: digest, 2: "p", length: 3 }]) {
      expect(decodeToken("circuits", [], forge(bad)), JSON.stringify(bad)).toEqual({ problem: "malformed" });
    }
  });
});
