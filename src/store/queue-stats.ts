/**
 * Per-target queue figures for /metrics: open deliveries and the creation time
 * of the oldest one. One grouped query over the deliveries_open index (open
 * deliveries only), cheap enough to run on every scrape.
 */
import type { StoreReads } from "./sql-client.ts";

type Client = StoreReads;

export interface QueueStat {
  target: string;
  /** Deliveries pending, delivering or paused. */
  depth: number;
  /** created_at of the oldest open delivery (ms). */
  oldestCreatedAt: number;
}

/** Open deliveries per target; targets with none are absent. */
export async function queueStats(client: Client): Promise<QueueStat[]> {
  const rs = await client.execute(
    // Spelt as the deliveries_open index's own condition, so that the count walks that index alone.
    "SELECT target, count(*) AS depth, min(created_at) AS oldest FROM deliveries WHERE status = 'pending' OR status = 'delivering' OR status = 'paused' GROUP BY target",
  );
  return rs.rows.map((r) => ({ target: String(r.target), depth: Number(r.depth), oldestCreatedAt: Number(r.oldest) }));
}

/**
 * created_at of each target's oldest delivery waiting to be delivered
 * (pending, or being attempted: a retry in flight is still waiting); targets
 * with none are absent. Two index lookups per target (deliveries_open), so a
 * long queue costs no more than a short one.
 */
export async function oldestWaitingAt(client: Client, targets: string[]): Promise<Map<string, number>> {
  if (targets.length === 0) return new Map();
  const oldest = (status: string, i: number) => `SELECT min(created_at) AS t FROM deliveries WHERE status = '${status}' AND target = ?${i + 1}`;
  const rs = await client.execute({
    sql: targets.map((_, i) => `SELECT ?${i + 1} AS target, (SELECT min(t) FROM (${oldest("pending", i)} UNION ALL ${oldest("delivering", i)}) AS o) AS oldest`).join(" UNION ALL "),
    args: targets,
  });
  const out = new Map<string, number>();
  for (const r of rs.rows) if (r.oldest !== null) out.set(String(r.target), Number(r.oldest));
  return out;
}

/** The targets the store still has open deliveries for that are not in `configured` (removed by a reload), with how many. */
export async function unconfiguredTargets(db: Client, configured: readonly string[]): Promise<{ name: string; open: number }[]> {
  const names = new Set(configured);
  return (await queueStats(db)).filter((q) => !names.has(q.target)).map((q) => ({ name: q.target, open: q.depth }));
}
