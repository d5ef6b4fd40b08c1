/**
 * Per-target queue figures for /metrics: open deliveries and the creation time
 * of the oldest one. One grouped query over the deliveries_open index (open
 * deliveries only), cheap enough to run on every scrape.
 */
import type { StoreConnection } from "./client.ts";

type Client = StoreConnection["client"];

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
