/**
 * A bound on a wait that says what was waited for: tests never assert that
 * something was fast (a slow machine breaks that), but a wait that can hang
 * gets a generous timeout whose failure names the awaited thing instead of
 * vitest's bare "Test timed out".
 */

/** Resolves or rejects as `promise` does; rejects with "no <what> within <ms> ms" if it has not settled by then. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
