/**
 * Every RPC the listeners serve has declared access, and one without it stops
 * the start: a new CircuitService RPC cannot ship unguarded. How the access
 * interceptor answers each RPC × key over the network is in
 * test/e2e/access-control.test.ts.
 */
import { describe, expect, it } from "vitest";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { AccessControl, REQUIRED_ROLE } from "../../src/service/access.js";
import { createAccessInterceptor } from "../../src/server/auth.js";
import { createGrpcServer } from "../../src/server/grpc.js";
import { createHttpServer } from "../../src/server/http.js";
import type { MethodHandler } from "../../src/server/interceptor.js";
import { OPEN, requiredAccessOf, SERVICE_ACCESS, UndeclaredAccessError } from "../../src/server/method-access.js";
import { createFakeCircuitService } from "./fake-circuit-service.js";
import { EchoService } from "./echo-service.js";

const access = new AccessControl([{ name: "ops", role: "admin", key: "admin-key-0123456789abcdef" }]);
const next: MethodHandler = () => ({});

/** The declarations with CircuitService's table lacking `method`. */
function without(method: string): Map<string, typeof REQUIRED_ROLE | typeof OPEN> {
  const table = Object.fromEntries(Object.entries(REQUIRED_ROLE).filter(([name]) => name !== method));
  return new Map([...SERVICE_ACCESS, [CircuitService.typeName, table]]);
}

describe("declared access", () => {
  it("covers every method of every service the listeners serve: CircuitService by role, health and reflection open", () => {
    const declared = (service: { methods: readonly { name: string }[] }) =>
      Object.fromEntries(service.methods.map((m) => [m.name, requiredAccessOf(m as never)]));
    const roles = declared(CircuitService);
    const withRole = (role: string): string[] => Object.keys(roles).filter((name) => roles[name] === role).sort();
    expect(withRole("agent")).toEqual(["Acquire", "AcquireAny", "BatchReport", "GetHistory", "GetState", "ListCircuits", "ListPatternRules", "Report", "Watch"]);
    expect(withRole("admin")).toEqual(["Configure", "DeletePatternRule", "ForceState", "Reset"]);
    expect(Object.keys(roles)).toHaveLength(CircuitService.methods.length);
    for (const service of [Health, ServerReflectionV1, ServerReflectionV1alpha]) {
      expect(new Set(Object.values(declared(service))), service.typeName).toEqual(new Set([OPEN]));
    }
  });

  it.each([
    ["with access control on", access],
    ["with access control off", undefined],
  ])("stops both listeners from starting when a CircuitService RPC has no declared role (%s)", (_, control) => {
    const interceptors = [createAccessInterceptor(control, without("Acquire"))];
    const { impl } = createFakeCircuitService();
    const message = "breakerbox.v1.CircuitService/Acquire has no declared access";
    expect(() => createGrpcServer({ circuitService: impl, interceptors, reflection: false })).toThrow(message);
    expect(() => createHttpServer({ circuitService: impl, interceptors })).toThrow(message);
    expect(() => createGrpcServer({ circuitService: impl, interceptors, reflection: false })).toThrow(UndeclaredAccessError);
  });

  it("refuses another service without declared access, unless it is registered without the interceptors", async () => {
    const server = createGrpcServer({ circuitService: {}, interceptors: [createAccessInterceptor(undefined)], reflection: false });
    try {
      expect(() => server.addService(EchoService, {})).not.toThrow(); // nothing implemented, nothing to guard
      const other = createGrpcServer({ circuitService: {}, interceptors: [createAccessInterceptor(undefined)], reflection: false });
      expect(() => other.addService(EchoService, { count: async () => ({}) })).toThrow(
        "test.v1.EchoService/Count has no declared access",
      );
      expect(() => other.addService(EchoService, { count: async () => ({}) }, { interceptors: [] })).not.toThrow();
      await other.shutdown(0);
    } finally {
      await server.shutdown(0);
    }
  });

  it("leaves open methods, and every method when access control is off, unwrapped: no cost per call", () => {
    expect(createAccessInterceptor(access)(next, Health.method.check)).toBe(next);
    expect(createAccessInterceptor(undefined)(next, CircuitService.method.acquire)).toBe(next);
    expect(createAccessInterceptor(access)(next, CircuitService.method.acquire)).not.toBe(next);
  });
});
