/**
 * Who may call each RPC the listeners serve, declared once per service: a
 * role per method (CircuitService's table is REQUIRED_ROLE in
 * src/service/access.ts), or OPEN for a whole service that any caller may use
 * (health checks, reflection). The access interceptor reads it when a service
 * is registered, so an RPC without a declaration stops the start instead of
 * shipping unguarded.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { CircuitService } from "../../gen/ts/breakerbox/v1/breakerbox_pb.js";
import { Health } from "../../gen/ts/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";
import { REQUIRED_ROLE, type Role } from "../service/access.js";

/** Any caller, with or without a key, even when access control is on. */
export const OPEN = "open";

/** What calling one RPC takes: a key with this role, or nothing (OPEN). */
export type MethodAccess = Role | typeof OPEN;

/** The roles of a service's RPCs by proto method name ("Acquire"), or OPEN for all of them. */
export type ServiceAccess = Readonly<Record<string, Role>> | typeof OPEN;

/**
 * The declarations, by service type name. A service missing here, or a method
 * missing from its service's table, has no declared access.
 */
export const SERVICE_ACCESS: ReadonlyMap<string, ServiceAccess> = new Map<string, ServiceAccess>([
  [CircuitService.typeName, REQUIRED_ROLE],
  [Health.typeName, OPEN],
  [ServerReflectionV1.typeName, OPEN],
  [ServerReflectionV1alpha.typeName, OPEN],
]);

/** An RPC is served without a declaration of who may call it. */
export class UndeclaredAccessError extends Error {
  override readonly name = "UndeclaredAccessError";
}

/**
 * The declared access of `method`. Throws {@link UndeclaredAccessError}
 * (naming the RPC and the table to add it to) when there is none.
 */
export function requiredAccessOf(method: DescMethod, declarations: ReadonlyMap<string, ServiceAccess> = SERVICE_ACCESS): MethodAccess {
  const service = declarations.get(method.parent.typeName);
  if (service === OPEN) return OPEN;
  const role = service !== undefined && Object.hasOwn(service, method.name) ? service[method.name] : undefined;
  if (role === undefined) {
    throw new UndeclaredAccessError(
      `${method.parent.typeName}/${method.name} has no declared access: add it to REQUIRED_ROLE (src/service/access.ts) or SERVICE_ACCESS (src/server/method-access.ts)`,
    );
  }
  return role;
}
