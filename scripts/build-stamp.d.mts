/** Types of scripts/build-stamp.mjs (see there). */
export type BuildPart = "server" | "dashboard" | "client";
export const BUILD_PARTS: Record<BuildPart, string[]>;
export const STAMP_PATH: string;
export function hashInputs(root: string, part: BuildPart): Record<string, string>;
export function writeStamp(root?: string, parts?: BuildPart[]): void;
export function staleness(root?: string, part?: BuildPart): string | undefined;
export function checkBuild(part?: BuildPart, root?: string): void;
