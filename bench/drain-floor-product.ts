/**
 * The drain's floor with the product's work in it (run by bench/deliver.ts,
 * step 2): the floor's engine (bench/floor-engine.ts, as bench/drain-floor.ts
 * runs it: an event loop keeping 64 `fetch`es going from a leased line, a
 * writer thread running one transaction a round, one round in flight) doing
 * what the product must do for each delivery and nothing the relay's engine adds:
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
 * libSQL driver, the relay's HTTP client (Bun's `fetch`, on its own thread;
 * FLOOR_SENDER=relay sends with the relay's client instead),
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
import { createSender } from "../src/delivery/sender.ts";
import { packAttemptRequest } from "../src/store/attempt-request.ts";
import { recordOutcomes, type LeasedDelivery, type OutcomeRecord } from "../src/store/deliveries.ts";
import type { LeaseRequest } from "../src/store/lease-request.ts";
import { bunSqliteWriter, DRAIN_PRAGMAS } from "./bun-sqlite-writer.ts";
import { AHEAD, CONCURRENCY, drainRounds } from "./floor-engine.ts";
import { seedPendingDeliveries } from "./wrk.ts";

/**
 * How a request goes: Bun's `fetch` (its HTTP client thread), or with
 * FLOOR_SENDER=relay the relay's own HTTP/1.1 client (delivery/sender.ts,
 * on the event loop, as the relay sends).
 */
const relaySender = process.env.FLOOR_SENDER === "relay" ? createSender() : null;

async function post(url: string, body: Uint8Array<ArrayBuffer>, headers: [string, string][]): Promise<{ status: number; excerpt: string | null }> {
  if (relaySender) {
    const r = await relaySender({ url, body, headers, timeoutMs: 30_000, connectTimeoutMs: 5_000 });
    return { status: r.result.kind === "response" ? r.result.status : 0, excerpt: r.excerpt };
  }
  const res = await fetch(url, { method: "POST", body, headers });
  return { status: res.status, excerpt: await res.text() };
}

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
  let rounds = 0;
  console.log("ready");
  await drainRounds<LeasedDelivery, OutcomeRecord>(writer, count, {
    post(outcomes, want) {
      const lease = want === 0 ? null : { leaseId: `lease_floor.${++rounds}`, holder: "lease_floor", nowMs: Date.now(), wants: [{ target: "sink", slots: want, concurrency: CONCURRENCY, leaseMs: 35_000, ordered: false, ahead: AHEAD }] };
      writer.postMessage({ outcomes, lease } satisfies Round);
    },
    // As the relay makes an attempt: its signed headers, the request, the outcome with its attempt row.
    async send(d) {
      const attempt = d.attempts + 1;
      const at = Date.now();
      const headers = buildOutboundHeaders({ ...d, body: d.body! }, { attempt, nowMs: at, keys: [KEY], forwardHeaders: [] });
      const { status, excerpt } = await post(sinkUrl!, d.body!, headers);
      return {
        deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target, status: "delivered", nextAttemptAt: null, error: null, healthy: true,
        attempt: {
          id: makeId("att", at, crypto.getRandomValues(new Uint8Array(10))), at, statusCode: status, durationMs: Date.now() - at, error: null, responseExcerpt: excerpt,
          request: packAttemptRequest({ method: "POST", url: sinkUrl!, headers }, { ...d, id: d.eventId, deliveryId: d.id }),
        },
      };
    },
  });
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
