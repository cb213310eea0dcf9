/** Types of fuzz-invariants.mjs for the TypeScript test that imports it. */
export function checkInvariants(options: { httpUrl: string; headers?: Record<string, string> }): Promise<{ checked: number; transitions: number; problems: string[] }>;
export function circuitProblems(status: Record<string, unknown>, entries: Record<string, unknown>[] | undefined): string[];
