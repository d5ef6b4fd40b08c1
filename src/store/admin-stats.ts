/**
 * Per-source and per-target figures for the admin pages: counters, recent
 * signature mismatches (a spike usually means a secret was rotated on one
 * side only), queue depth, success rate and last error. Each figure is an
 * index range count bounded by a recent window, never a table scan.
 */
import { SOURCE_STATS_WINDOW_MS, TARGET_STATS_WINDOW_MS } from "../core/types.ts";
import { idFloor } from "../core/ids.ts";
import { latestOfPair } from "./redeliver.ts";
import type { StoreReads } from "./sql-client.ts";

type Client = StoreReads;

/** Rejection reasons that mean "the request was signed, but not with our secret". */
export const MISMATCH_REASONS = ["bad_signature", "bad_credentials", "body_hash_mismatch"] as const;

/** Counters and recent figures of one source. */
export interface SourceStats {
  name: string;
  received: number;
  duplicates: number;
  rejected: number;
  /** Rejected requests kept as rows (the rest only counted: REJECTIONS_KEPT_PER_SECOND, 10,000 per source at most). */
  rejectedKept: number;
  lastReceivedAt: number | null;
  lastRejectedAt: number | null;
  windowMs: number;
  recentReceived: number;
  recentMismatches: number;
  /** Many recent mismatches against few accepted requests. */
  mismatchSpike: boolean;
}

/** The statement counting `source`'s signature mismatches stored since `sinceMs`. */
function mismatchesSince(source: string, sinceMs: number): { sql: string; args: (string | number)[] } {
  return {
    // What the rows stand for: a burst past the storing cap (10 a second) counts in full.
    sql: `SELECT coalesce(sum(represents), 0) AS c FROM rejections WHERE source = ? AND received_at >= ? AND reason IN (${MISMATCH_REASONS.map(() => "?").join(",")})`,
    args: [source, sinceMs, ...MISMATCH_REASONS],
  };
}

/** Figures for each named source over the last `windowMs`. */
export async function sourceStats(client: Client, names: string[], nowMs: number, windowMs = SOURCE_STATS_WINDOW_MS): Promise<SourceStats[]> {
  const since = nowMs - windowMs;
  const out: SourceStats[] = [];
  for (const name of names) {
    const rs = await client.batch(
      [
        { sql: "SELECT received, duplicates, rejected FROM source_counters WHERE source = ?", args: [name] },
        // Event ids sort by receive time, so (source, id) answers both without a time index.
        { sql: "SELECT received_at AS t FROM events WHERE source = ? ORDER BY id DESC LIMIT 1", args: [name] },
        { sql: "SELECT max(received_at) AS t FROM rejections WHERE source = ?", args: [name] },
        { sql: "SELECT count(*) AS c FROM events WHERE source = ? AND id >= ?", args: [name, idFloor("evt", since)] },
        mismatchesSince(name, since),
        mismatchesSince(name, nowMs - 60_000),
        { sql: "SELECT count(*) AS c FROM rejections WHERE source = ?", args: [name] },
      ],
      "read",
    );
    const c = rs[0]!.rows[0];
    const recentReceived = Number(rs[3]!.rows[0]!.c);
    const recentMismatches = Number(rs[4]!.rows[0]!.c);
    const last = (i: number) => {
      const t = rs[i]!.rows[0]?.t;
      return t === null || t === undefined ? null : Number(t);
    };
    out.push({
      name,
      received: Number(c?.received ?? 0),
      duplicates: Number(c?.duplicates ?? 0),
      rejected: Number(c?.rejected ?? 0),
      rejectedKept: Number(rs[6]!.rows[0]!.c),
      lastReceivedAt: last(1),
      lastRejectedAt: last(2),
      windowMs,
      recentReceived,
      recentMismatches,
      mismatchSpike: isMismatchSpike(recentMismatches, recentReceived, Number(rs[5]!.rows[0]!.c)),
    });
  }
  return out;
}

/**
 * Many recent mismatches against few accepted requests: a secret rotated on
 * one side only, most likely. The mismatches are what the stored rows stand
 * for (rejections.represents: a flood past the storing cap counts in full),
 * compared with a fifth of the accepted; and mismatches at five a second for
 * the last minute (`lastMinute`) are a wave whatever a busy source accepted
 * in the window before them.
 */
export function isMismatchSpike(mismatches: number, accepted: number, lastMinute = 0): boolean {
  return (mismatches >= 5 && mismatches * 5 >= accepted) || lastMinute >= FLOOD_LAST_MINUTE;
}

// Five mismatches a second for the last minute: counted in full (what the rows stand for), not the storing cap.
const FLOOD_LAST_MINUTE = 300;

/**
 * The sources whose last `windowMs` is a mismatch spike, with its figures.
 * Cheaper than sourceStats for a check that runs every few seconds: the
 * accepted requests are counted only for a source with mismatches, and
 * only as far as the spike rule needs.
 */
export async function mismatchSpikes(
  client: Client,
  names: string[],
  nowMs: number,
  windowMs: number,
): Promise<Map<string, { mismatches: number; accepted: number }>> {
  const out = new Map<string, { mismatches: number; accepted: number }>();
  const since = nowMs - windowMs;
  for (const name of names) {
    const m = await client.execute(mismatchesSince(name, since));
    const mismatches = Number(m.rows[0]!.c);
    if (!isMismatchSpike(mismatches, 0)) continue;
    if (mismatches >= FLOOD_LAST_MINUTE) {
      const recent = await client.execute(mismatchesSince(name, nowMs - 60_000));
      if (isMismatchSpike(mismatches, Number.POSITIVE_INFINITY, Number(recent.rows[0]!.c))) {
        out.set(name, { mismatches, accepted: await acceptedSince(client, name, since, mismatches * 5 + 1) });
        continue;
      }
    }
    // Past mismatches × 5 accepted it is no spike, whatever the exact count.
    const accepted = await acceptedSince(client, name, since, mismatches * 5 + 1);
    if (isMismatchSpike(mismatches, accepted)) out.set(name, { mismatches, accepted });
  }
  return out;
}

/** Signature mismatches of `source` since `sinceMs` (what the rows stand for), whatever the accepted count. */
export async function mismatchCountSince(client: Client, source: string, sinceMs: number): Promise<number> {
  return Number((await client.execute(mismatchesSince(source, sinceMs))).rows[0]!.c);
}

/** Events of `source` received since `since`, counted up to `atMost`. */
async function acceptedSince(client: Client, source: string, since: number, atMost: number): Promise<number> {
  const a = await client.execute({
    sql: "SELECT count(*) AS c FROM (SELECT 1 FROM events WHERE source = ? AND id >= ? LIMIT ?) AS m",
    args: [source, idFloor("evt", since), atMost],
  });
  return Number(a.rows[0]!.c);
}

/** State, queue and recent figures of one target. */
export interface TargetStats {
  name: string;
  disabled: boolean | null;
  disabledReason: string | null;
  lastError: string | null;
  /** When lastError was recorded (null: before that was kept). */
  lastErrorAt: number | null;
  consecutiveFailures: number;
  failingSince: number | null;
  circuitOpenUntil: number | null;
  /** Current counts per status; cancelled ones are not queued (queue depth leaves them out). */
  /** `failed`: failed deliveries still the latest of their (event, target), as the events list counts them. */
  queue: { pending: number; delivering: number; paused: number; failed: number; cancelled: number };
  windowMs: number;
  recentAttempts: number;
  recentSuccesses: number;
  lastAttempt: { at: number; statusCode: number | null; error: string | null } | null;
}


/** Figures for each named target; `disabled` is null when the store holds no state for it. */
export async function targetStats(client: Client, names: string[], nowMs: number, windowMs = TARGET_STATS_WINDOW_MS): Promise<TargetStats[]> {
  const out: TargetStats[] = [];
  for (const name of names) {
    const rs = await client.batch(
      [
        { sql: "SELECT * FROM target_state WHERE name = ?", args: [name] },
        {
          // One count per status, each spelt so that it walks a partial index (schema.ts). Failed ones
          // only while still the pair's latest (not redelivered since), as the events list counts them.
          sql: ["pending", "delivering", "paused", "failed", "cancelled"]
            .map((s) => `SELECT '${s}' AS status, count(*) AS c FROM deliveries d WHERE status = '${s}' AND target = ?1${s === "failed" ? ` AND ${latestOfPair("d")}` : ""}`)
            .join(" UNION ALL "),
          args: [name],
        },
        {
          // CASE, not a sum of the comparison: PostgreSQL has no sum of booleans.
          sql: "SELECT count(*) AS c, coalesce(sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) AS ok FROM attempts WHERE target = ? AND at >= ?",
          args: [name, nowMs - windowMs],
        },
        { sql: "SELECT at, status_code, error FROM attempts WHERE target = ? ORDER BY at DESC LIMIT 1", args: [name] },
      ],
      "read",
    );
    const st = rs[0]!.rows[0];
    const queue = { pending: 0, delivering: 0, paused: 0, failed: 0, cancelled: 0 };
    for (const r of rs[1]!.rows) queue[String(r.status) as keyof typeof queue] = Number(r.c);
    const win = rs[2]!.rows[0]!;
    const la = rs[3]!.rows[0];
    out.push({
      name,
      disabled: st ? Boolean(Number(st.disabled)) : null,
      disabledReason: st?.disabled_reason == null ? null : String(st.disabled_reason),
      lastError: st?.last_error == null ? null : String(st.last_error),
      lastErrorAt: st?.last_error_at == null ? null : Number(st.last_error_at),
      consecutiveFailures: Number(st?.consecutive_failures ?? 0),
      failingSince: st?.failing_since == null ? null : Number(st.failing_since),
      circuitOpenUntil: st?.circuit_open_until == null ? null : Number(st.circuit_open_until),
      queue,
      windowMs,
      recentAttempts: Number(win.c),
      recentSuccesses: Number(win.ok),
      lastAttempt: la
        ? { at: Number(la.at), statusCode: la.status_code === null ? null : Number(la.status_code), error: la.error === null ? null : String(la.error) }
        : null,
    });
  }
  return out;
}
