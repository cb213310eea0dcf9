/**
 * Kept so that `../../config.js` in src/store/redis/connection.ts (owned by
 * the store) still resolves; the configuration lives in src/config/. Import
 * from `./config/index.js`; delete this file once nothing imports it.
 */
export * from "./config/index.js";
