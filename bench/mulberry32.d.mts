/** Types of mulberry32.mjs. */
/** A uniform [0, 1) source that repeats exactly for the same `seed`. */
export function mulberry32(seed: number): () => number;
