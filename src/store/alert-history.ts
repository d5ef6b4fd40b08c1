/**
 * What the store holds of one alert condition: the newest alert event raised
 * or resolved for it (alerts are events of the source `hookrelay`, their
 * dedupe key `<condition>/<subject>[/resolved][@<episode>]`, alert-sender.ts).
 * Alerts are few (debounced, at most a handful a minute): the newest few
 * hundred, by the source's id index, hold the last of every condition that
 * matters.
 */
import type { SqlReader } from "./sql-client.ts";

/** The newest alert event of a condition. */
export interface LastAlert {
  id: string;
  resolved: boolean;
  receivedAt: number;
}

const LOOK_BACK = 500;

/** The newest alert stored for `base` (`<condition>/<subject>`), raised or resolved; null when none is among the recent ones. */
export async function lastAlertOf(reads: SqlReader, source: string, base: string): Promise<LastAlert | null> {
  const rs = await reads.execute({ sql: `SELECT id, dedupe_key, received_at FROM events WHERE source = ? ORDER BY id DESC LIMIT ${LOOK_BACK}`, args: [source] });
  for (const r of rs.rows) {
    const key = String(r.dedupe_key);
    const raised = key === base || key.startsWith(`${base}@`);
    const resolved = key === `${base}/resolved` || key.startsWith(`${base}/resolved@`);
    if (raised || resolved) return { id: String(r.id), resolved, receivedAt: Number(r.received_at) };
  }
  return null;
}

/**
 * The conditions whose newest alert among the recent ones is a raise: open
 * episodes, as `<condition>` and `<subject>` (a target, a source). What a
 * relay starting on this store reads to close those of a target or source
 * its config no longer names.
 */
export async function openAlertConditions(reads: SqlReader, source: string): Promise<{ condition: string; subject: string }[]> {
  const rs = await reads.execute({ sql: `SELECT dedupe_key FROM events WHERE source = ? ORDER BY id DESC LIMIT ${LOOK_BACK}`, args: [source] });
  const seen = new Set<string>();
  const open: { condition: string; subject: string }[] = [];
  for (const r of rs.rows) {
    // <condition>/<subject>[/resolved][@<episode>]: names hold neither "/" nor "@".
    const match = /^([^/@]+)\/([^/@]+)(\/resolved)?(@.*)?$/.exec(String(r.dedupe_key));
    if (!match) continue;
    const [, condition, subject, resolved] = match;
    const base = `${condition}/${subject}`;
    if (seen.has(base)) continue;
    seen.add(base);
    if (!resolved) open.push({ condition: condition!, subject: subject! });
  }
  return open;
}
