/** How configuration problems quote values and the errors of what they read. */

/** A value as a message quotes it: text in quotes, numbers as written (JSON would print NaN as null). */
export function show(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

/** The message of a thrown value. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Text on one line (messages of parsers and the file system span several). */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
