/**
 * Glob matching for route `event_types` (and `hookrelay listen` routes): `*`
 * matches any run of characters, line breaks and separators included, `?`
 * one character (one code point: an emoji is one). The value matched is an
 * event type, which the sender chooses: matching walks it once per star at
 * most (a star's last place is all it goes back to), where a regular
 * expression built from `*.*.*.*.*.x` backtracked for seconds on a
 * 200-character type.
 */

/** A compiled glob. */
export interface Glob {
  test(value: string): boolean;
}

/** Compiles `glob` once; `test` matches a whole value against it. */
export function compileGlob(glob: string): Glob {
  const points = [...glob];
  // Most types and globs are plain ASCII: walked as they are, no arrays made. A surrogate pair
  // (an emoji) in either is walked by code point, so that "?" takes all of it.
  if (SURROGATE.test(glob)) return { test: (value) => matches(points, [...value]) };
  return { test: (value) => (SURROGATE.test(value) ? matches(points, [...value]) : matches(glob, value)) };
}

const SURROGATE = /[\ud800-\udfff]/;

// The classic wildcard walk: on a mismatch, the last star takes one more character and the rest
// is tried again from there; an earlier star never needs to (the last one can take whatever it would).
function matches(p: ArrayLike<string>, s: ArrayLike<string>): boolean {
  let pi = 0;
  let si = 0;
  let star = -1;
  let resume = 0;
  while (si < s.length) {
    if (pi < p.length && p[pi] === "*") {
      star = pi++;
      resume = si;
    } else if (pi < p.length && (p[pi] === "?" || p[pi] === s[si])) {
      pi++;
      si++;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++resume;
    } else return false;
  }
  while (pi < p.length && p[pi] === "*") pi++;
  return pi === p.length;
}

/** True when `value` matches any glob; a null glob list matches everything. */
export function matchesAnyGlob(globs: Glob[] | null, value: string | null): boolean {
  if (globs === null) return true;
  if (value === null) return false;
  return globs.some((g) => g.test(value));
}
