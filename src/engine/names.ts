/** Circuit names and pattern globs, as docs/design.md §Semantics defines them. */

/** The longest circuit name, in characters. */
export const MAX_CIRCUIT_NAME_LENGTH = 200;

/** A circuit name: 1 to 200 characters, starting with a letter or digit. */
export const CIRCUIT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;

/** A pattern rule's glob: the characters of a name plus `*` and `?`, 1 to 200 of them. */
export const PATTERN_RE = /^[A-Za-z0-9._:/@*?-]{1,200}$/;

/** Why `name` is not a valid circuit name, or undefined if it is. */
export function circuitNameProblem(name: string): string | undefined {
  if (name === "") return "is required";
  if (CIRCUIT_NAME_RE.test(name)) return undefined;
  if (name.length > MAX_CIRCUIT_NAME_LENGTH) return `is ${name.length} characters long; at most ${MAX_CIRCUIT_NAME_LENGTH} are allowed`;
  return `${JSON.stringify(name.length > 60 ? name.slice(0, 60) + "…" : name)} must match ${CIRCUIT_NAME_RE.source} (start with a letter or digit; then letters, digits and . _ : / @ -)`;
}

/** Why `pattern` is not a valid glob, or undefined if it is. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern === "") return "is required";
  if (PATTERN_RE.test(pattern)) return undefined;
  return `${JSON.stringify(pattern.slice(0, 60))} must be 1 to 200 of letters, digits, . _ : / @ - and the wildcards * and ?`;
}
