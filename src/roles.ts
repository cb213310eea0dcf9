/**
 * The access-control vocabulary: roles and configured API keys.
 *
 * A leaf module (it imports nothing), so that both the config parser, which
 * reads keys from the environment and the config file, and the service's
 * access control, which checks them, can depend on it without the config
 * layer importing the service layer.
 */

/** The roles an API key can have: an `admin` may do everything an `agent` may, and administer circuits. */
export const ROLES = ["agent", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** One configured API key. `key` is the secret; `name` is what logs and history show. */
export interface ApiKey {
  name: string;
  role: Role;
  key: string;
}
