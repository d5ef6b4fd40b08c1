/**
 * The drain's floor with the product's work in it (run by bench/deliver.ts,
 * step 2): the floor's engine (bench/drain-floor.ts: an event loop keeping 64
 * `fetch`es going from a leased line, a writer thread running one
 * transaction a round, one round in flight) doing what the product must do
 * for each delivery and nothing the relay's engine adds:
 *
 * - the store is the relay's: its schema and indexes (issue 4's admin
 *   queries need them), seeded as bench/deliver.ts seeds the relay's, and
 *   each round is the relay's own `recordOutcomes` — the outcomes, their
 *   attempt rows, the target's health, the next lease and its read-back
 *   joined with the events — run on `bun:sqlite` with the relay's drain
 *   pragmas;
 * - each request is the relay's: `buildOutboundHeaders` (the Standard
 *   Webhooks signature, a fresh timestamp, the hookrelay headers), and its
 *   attempt recorded as the relay records one (an id, the reply's excerpt,
 *   the request packed).
 *
 * Not here: the wire to the writer thread (structured clone instead), the
 * libSQL driver, the relay's HTTP client (Bun's `fetch`, on its own thread),
 * slots, rate tokens, health in memory, metrics, logs, wake-ups. What the
 * relay's drain costs beyond this is its engine; what this costs beyond
 * drain-floor.ts is the product.
 *
 *   bun bench/drain-floor-product.ts <sink url> <store file> <count>
 *
 * Seeds <count> pending deliveries of FLOOR_BODY into a new <store file>
 * (target "sink"), prints "ready", drains them all, exits.
 */
import { Database } from "bun:sqlite";
import { makeId } from "../src/core/ids.ts";
import { buildOutboundHeaders } from "../src/delivery/outbound-request.ts";
import { packAttemptRequest } from "../src/store/attempt-request.ts";
import { recordOutcomes, type LeasedDelivery, type OutcomeRecord } from "../src/store/deliveries.ts";
import type { LeaseRequest } from "../src/store/lease-request.ts";
import { bunSqliteWriter, DRAIN_PRAGMAS } from "./bun-sqlite-writer.ts";
import { seedPendingDeliveries } from "./wrk.ts";

const CONCURRENCY = 64;
/** The line leased ahead of the slots, as the relay's (2 × concurrency, at most 128). */
const AHEAD = 128;
/** A signing key as a target's `signing_secret` decodes to. */
const KEY = new TextEncoder().encode("bench-signing-secret-32-bytes!!!");

interface Round {
  outcomes: OutcomeRecord[];
  lease: LeaseRequest | null;
}

if (Bun.isMainThread) await main();
else writerThread();

async function main(): Promise<void> {
  const [sinkUrl, file, countText] = process.argv.slice(2);
  const count = Number(countText);
  await seedPendingDeliveries(`file:${file}`, count, process.env.FLOOR_BODY ?? "{}");
  const writer = new Worker(import.meta.url);
  writer.postMessage(file); // its first message: the store's file
  const line: LeasedDelivery[] = [];
  let done: OutcomeRecord[] = [];
  let roundInFlight = false;
  let rounds = 0;
  let sent = 0;
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  const wakeSenders = () => {
    const w = waiting;
    waiting = [];
    for (const f of w) f();
  };
  const round = () => {
    if (roundInFlight) return;
    const want = sent >= count ? 0 : Math.max(0, CONCURRENCY + AHEAD - line.length - inFlight);
    if (done.length === 0 && want === 0) return;
    roundInFlight = true;
    const nowMs = Date.now();
    const lease = want === 0 ? null : { leaseId: `lease_floor.${++rounds}`, holder: "lease_floor", nowMs, wants: [{ target: "sink", slots: want, concurrency: CONCURRENCY, leaseMs: 35_000, ordered: false, ahead: AHEAD }] };
    writer.postMessage({ outcomes: done, lease } satisfies Round);
    done = [];
  };
  writer.onmessage = (e: MessageEvent<LeasedDelivery[]>) => {
    roundInFlight = false;
    line.push(...e.data);
    wakeSenders();
    round();
  };
  console.log("ready");
  round();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        while (line.length === 0) {
          if (sent >= count) return;
          await new Promise<void>((r) => waiting.push(r));
        }
        const d = line.shift()!;
        sent++;
        inFlight++;
        const attempt = d.attempts + 1;
        const at = Date.now();
        const headers = buildOutboundHeaders({ ...d, body: d.body! }, { attempt, nowMs: at, keys: [KEY], forwardHeaders: [] });
        const res = await fetch(sinkUrl!, { method: "POST", body: d.body!, headers });
        const excerpt = await res.text();
        inFlight--;
        done.push({
          deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target, status: "delivered", nextAttemptAt: null, error: null, healthy: true,
          attempt: {
            id: makeId("att", at, crypto.getRandomValues(new Uint8Array(10))), at, statusCode: res.status, durationMs: Date.now() - at, error: null, responseExcerpt: excerpt,
            request: packAttemptRequest({ method: "POST", url: sinkUrl!, headers }, { ...d, id: d.eventId, deliveryId: d.id }),
          },
        });
        round();
      }
    }),
  );
  // The last outcomes recorded before the exit.
  while (roundInFlight || done.length > 0) {
    round();
    await Bun.sleep(1);
  }
  writer.terminate();
  process.exit(0);
}

function writerThread(): void {
  let writer: ReturnType<typeof bunSqliteWriter> | null = null;
  self.onmessage = async (e: MessageEvent<Round | string>) => {
    if (typeof e.data === "string") {
      const db = new Database(e.data, { strict: true });
      db.exec(DRAIN_PRAGMAS);
      writer = bunSqliteWriter(db);
      return;
    }
    const { outcomes, lease } = e.data;
    postMessage((await recordOutcomes(writer!, outcomes, Date.now(), lease)).leased);
  };
}
