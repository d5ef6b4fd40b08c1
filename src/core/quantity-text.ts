/**
 * Sizes, counts and times as people read them, one way everywhere (UI pages, CLI
 * output, messages): sizes in binary units, as config sizes are ("1kb" = 1024 bytes),
 * and a count with its noun in the right number. (config/units.ts parses
 * the config's durations and sizes; this only writes them.)
 */

const SIZE_UNITS = ["KiB", "MiB", "GiB", "TiB"];

/**
 * A byte count in binary units, one decimal past a KiB.
 *
 * @example sizeText(512) // "512 bytes"
 * @example sizeText(1536) // "1.5 KiB"
 */
export function sizeText(n: number): string {
  if (n < 1024) return counted(n, "byte", "bytes");
  let v = n / 1024;
  let unit = 0;
  while (v >= 1024 && unit < SIZE_UNITS.length - 1) (v /= 1024), unit++;
  return `${v.toFixed(1)} ${SIZE_UNITS[unit]}`;
}

/**
 * A count with its noun, singular for exactly one.
 *
 * @example counted(1, "delivery", "deliveries") // "1 delivery"
 * @example counted(0, "event", "events") // "0 events"
 */
export function counted(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * An ISO time as the UI prints times, to the second, in UTC (the caller adds " UTC").
 *
 * @example utcTimeText("2026-12-05T07:24:19.397Z") // "2026-12-05 07:24:19"
 */
export function utcTimeText(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "");
}

/**
 * An age or a window, coarse: "45s", "17m", "2h 5m", "3d 4h" (alerts' messages, the overview).
 *
 * @example formatAge(125_000) // "2m"
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}
