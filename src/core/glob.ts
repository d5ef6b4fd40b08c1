/** Glob matching for route `event_types`: `*` matches any run of characters, `?` one. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  // "s": any character means any, line separators (U+2028, a provider's \n) included; "u": one "?" per code point.
  return new RegExp(`^${escaped}$`, "su");
}

/** True when `value` matches any glob; a null glob list matches everything. */
export function matchesAnyGlob(globs: RegExp[] | null, value: string | null): boolean {
  if (globs === null) return true;
  if (value === null) return false;
  return globs.some((g) => g.test(value));
}
