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
});
