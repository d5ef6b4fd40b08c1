/**
 * A time as an operator types it (`--since`, the events list's since/until):
 * an ISO 8601 date or date-time, `T` or a space between them, seconds and a
 * fraction optional. Without a zone it is UTC, as every time the relay shows
 * is: read in the server's zone, the same command gave other events on
 * another host. Only dates of the calendar (no 30 February rolled over into
 * March), and nothing else (no "Dec 5", no 12/05/2026, which the runtime's
 * lenient parser would take in some zone or other).
 *
 * @example parseUtcTime("2026-12-05 23:28") // Date.UTC(2026, 11, 5, 23, 28)
 * @example parseUtcTime("2026-12-05T23:28:30+05:30") // Date.UTC(2026, 11, 5, 17, 58, 30)
 */
export function parseUtcTime(text: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(\.\d{1,9})?)?)?([Zz]|[+-]\d\d:?\d\d)?$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone = "Z"] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = Date.UTC(...parts, Math.floor(Number(`0${frac || ".0"}`) * 1000));
  // A date of the calendar: Date.UTC rolls 30 February over into March, 24:00 into the next day.
  const back = new Date(ms);
  const same = [back.getUTCFullYear(), back.getUTCMonth(), back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()];
  if (same.some((v, i) => v !== parts[i])) return null;
  if (zone.toUpperCase() === "Z") return ms;
  const offset = /^([+-])(\d\d):?(\d\d)$/.exec(zone)!;
  const minutes = Number(offset[2]) * 60 + Number(offset[3]);
  if (Number(offset[2]) > 23 || Number(offset[3]) > 59) return null;
  return ms - (offset[1] === "+" ? 1 : -1) * minutes * 60_000;
}
