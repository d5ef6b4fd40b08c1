/**
 * Two relays (the compiled binary) on one PostgreSQL database, as behind a
 * load balancer: a provider sends 1,000 distinct events alternately to both,
 * retrying what is not acknowledged, while one relay is SIGKILLed and
 * restarted. Every acknowledged event is stored once and delivered at least
 * once to each target; no delivery is ever in flight twice at once; a
 * target's concurrency holds across both relays; an ordered target gets the
 * events in receive order.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import type { RunningBinary } from "../support/binary.ts";
import { provider, relayToml, scratchDir, serveBinary } from "../support/fault-harness.ts";
import { createDatabase, postgresBinDir, startPgCluster, type PgCluster } from "../support/pg-cluster.ts";
import { onPostgres } from "../support/test-store.ts";
import { waitFor } from "../support/wait.ts";

const EVENTS = 1000;
const CONCURRENCY = 4;
// Like every test in test/postgres/: run in the PostgreSQL half of the matrix only (bun scripts/test-postgres.ts), not twice.
const installed = onPostgres && postgresBinDir() !== null;

/** A target that records each request's [arrival, reply] interval per path. */
function intervalTarget() {
  const hits: { path: string; id: string; at: number; doneAt: number }[] = [];
  const inFlight = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const id = req.headers.get("webhook-id") ?? "";
      const at = performance.now();
      inFlight.set(path, (inFlight.get(path) ?? 0) + 1);
      await req.arrayBuffer();
      // A little latency keeps attempts in flight when the kill lands.
      await Bun.sleep(2 + Math.floor(Math.random() * 8));
      inFlight.set(path, inFlight.get(path)! - 1);
      hits.push({ path, id, at, doneAt: performance.now() });
      return new Response("ok");
    },
  });
  return { url: (path: string) => `http://127.0.0.1:${server.port}${path}`, hits, inFlight: () => [...inFlight.values()].reduce((a, b) => a + b, 0), stop: () => server.stop(true) };
}

/** The most intervals open at once among `hits` (a sweep over their edges). */
function peakOverlap(hits: { at: number; doneAt: number }[]): number {
  const edges = hits.flatMap((h) => [[h.at, 1], [h.doneAt, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (open += d));
  return peak;
}

let cluster: PgCluster | null = null;
let db: { url: string; drop(): Promise<void> } | null = null;
const tmp = [scratchDir("hookrelay-pg-a-"), scratchDir("hookrelay-pg-b-")];
const target = intervalTarget();
const relays: (RunningBinary | null)[] = [null, null];

beforeAll(async () => {
  if (!installed) return;
  const base = process.env.HOOKRELAY_TEST_PG_URL ?? (cluster = await startPgCluster()).baseUrl;
  db = await createDatabase(base.endsWith("/") ? base : `${base}/`, "two_relays");
});

afterAll(async () => {
  for (const r of relays) if (r && r.proc.exitCode === null) await r.stop("SIGKILL");
  await target.stop();
  await db?.drop();
  await cluster?.stop();
  for (const t of tmp) t.remove();
});

test.skipIf(!installed)(
  "two relays on one database, one SIGKILLed and restarted mid-stream: each acked event stored once, delivered, never in flight twice, concurrency and order exact",
  async () => {
    const toml = relayToml({
      storeUrl: db!.url,
      targets: [
        { name: "fast", url: target.url("/fast"), timeout: "1s", connectTimeout: "500ms", concurrency: CONCURRENCY },
        { name: "line", url: target.url("/line"), timeout: "1s", connectTimeout: "500ms", concurrency: 1, ordered: true },
      ],
    });
    relays[0] = await serveBinary(tmp[0]!.dir, toml);
    relays[1] = await serveBinary(tmp[1]!.dir, toml);
    let turn = 0;
    // Alternately to both, as a round-robin balancer does; to the live one while the other is down.
    const send = provider({
      rps: 250,
      total: EVENTS,
      prefix: "two",
      url: () => {
        const up = relays.filter((r): r is RunningBinary => r !== null);
        return up.length === 0 ? null : up[turn++ % up.length]!.publicUrl;
      },
    });
    await waitFor("400 acked", () => send.acked.size >= 400, 60_000, 10);
    await waitFor("an attempt in flight", () => target.inFlight() > 0, 1_000, 1).catch(() => {});
    const killed = relays[0]!;
    relays[0] = null;
    killed.proc.kill("SIGKILL");
    await killed.proc.exited;
    await Bun.sleep(300);
    relays[0] = await serveBinary(tmp[0]!.dir, toml);
    await send.done;

    const sql = new SQL(db!.url);
    try {
      const open = async () => Number((await sql.unsafe("SELECT count(*) AS n FROM deliveries WHERE status <> 'delivered'"))[0].n);
      await waitFor("every delivery delivered", async () => (await open()) === 0, 90_000, 250);
      const events = (await sql.unsafe("SELECT id, dedupe_key FROM events")) as { id: string; dedupe_key: string }[];
      const line = (await sql.unsafe("SELECT event_id, created_at FROM deliveries WHERE target = 'line'")) as { event_id: string; created_at: string }[];
      const stored = new Map(events.map((e) => [e.id, e.dedupe_key]));
      const keys = events.map((e) => e.dedupe_key);

      expect(send.acked.size).toBe(EVENTS);
      expect(send.ackedTwice).toEqual([]);
      // Stored once: one event per provider key, and each acked id is that event.
      expect(new Set(keys).size).toBe(keys.length);
      expect(events).toHaveLength(EVENTS);
      expect([...send.acked].filter(([key, id]) => stored.get(id) !== key)).toEqual([]);

      const byPath = (p: string) => target.hits.filter((h) => h.path === p);
      const ackedIds = new Set(send.acked.values());
      for (const p of ["/fast", "/line"]) {
        expect([...ackedIds].filter((id) => !byPath(p).some((h) => h.id === id))).toEqual([]);
        // Never in flight twice at once: each event's own attempts do not overlap.
        const perId = Map.groupBy(byPath(p), (h) => h.id);
        const overlapping = [...perId.entries()].filter(([, hs]) => peakOverlap(hs) > 1).map(([id]) => id);
        expect(overlapping).toEqual([]);
      }
      expect(peakOverlap(byPath("/fast"))).toBeLessThanOrEqual(CONCURRENCY);
      expect(peakOverlap(byPath("/line"))).toBe(1);
      // Receive order: each event's first arrival at the ordered target follows the time it was
      // received. Two events received by the two relays within one commit of each other have no
      // order between them (the later-received may commit, and so be sent, first): an arrival may
      // precede an earlier-received event only by less than that.
      const receivedAt = new Map(line.map((r) => [r.event_id, Number(r.created_at)]));
      const firsts: string[] = [];
      for (const h of [...byPath("/line")].sort((a, b) => a.at - b.at)) if (!firsts.includes(h.id)) firsts.push(h.id);
      let latest = 0;
      let inversions = 0;
      let worstMs = 0;
      for (const id of firsts) {
        const at = receivedAt.get(id)!;
        if (at < latest) {
          inversions++;
          worstMs = Math.max(worstMs, latest - at);
        }
        latest = Math.max(latest, at);
      }
      console.log(
        `two relays: ${EVENTS} events, acked ${send.acked.size}; unanswered (kill) ${send.unanswered.size}; ` +
          `attempts fast=${byPath("/fast").length} line=${byPath("/line").length}; peak fast=${peakOverlap(byPath("/fast"))}`,
      );
      console.log(`  ordered target: ${inversions} arrivals before an event received up to ${worstMs} ms earlier on the other relay`);
      expect(worstMs).toBeLessThan(100);
    } finally {
      await sql.close();
    }
  },
  180_000,
);
