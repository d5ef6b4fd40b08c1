/** "Did you mean …?" for misspelt keys and enum values in the config. */

/** Edit distance (insertions, deletions, substitutions, and swaps of neighbours), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Full matrix: names are short, and a swap needs the row before last.
  const d = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidate `input` was most likely meant to be: the nearest within a
 * third of its length (at most 3 edits; none for 1–2 letters), or one that starts the
 * other (`warning` → `warn`, `listen_addr` → `listen`); null when none is close.
 *
 * @example closestName("stripee", ["stripe", "svix"]) // "stripe"
 */
export function closestName(input: string, candidates: readonly string[]): string | null {
  const lower = input.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.min(3, Math.floor(input.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(input, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== null) return best;
  const starts = candidates.filter((c) => c.length >= 3 && lower.length >= 3 && (lower.startsWith(c) || c.startsWith(lower)));
  return starts.length === 1 ? starts[0]! : null;
}

/** `; did you mean "x"?` for the closest candidate, or "" (appended to a problem message). */
export function didYouMean(input: unknown, candidates: readonly string[]): string {
  const match = typeof input === "string" ? closestName(input, candidates) : null;
  return match === null ? "" : `; did you mean "${match}"?`;
}
