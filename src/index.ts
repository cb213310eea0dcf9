/**
 * The breakerbox package: the TypeScript agent SDK. `createBreakerbox({ address })`
 * returns a client whose `run(circuit, fn)` plays Acquire/Report around `fn`.
 */
export * from "./client/index.js";
