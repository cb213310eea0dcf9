/** The pure engine: state machine, config resolution, presets. No I/O. */
export * from "./types.js";
export * from "./config.js";
export * from "./glob.js";
export * from "./config-fields.js";
export * from "./circuit.js";
export * from "./errors.js";
export * from "./permit.js";
export * from "./permit-window.js";
export * from "./window.js";
export * from "./names.js";
export * from "./principal.js";
export * from "./schedule.js";
export * from "./reporters.js";
