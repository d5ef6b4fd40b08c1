/**
 * Fixtures for the admin tests, the UI tests and the screenshot script: a
 * config with two sources and two targets, and a seeding function that
 * stores events through the real ingest writer and then sets delivery
 * outcomes (statuses, attempts) the way the delivery engine would leave them.
 */
import { randomBytes } from "node:crypto";
import { makeId } from "../../src/core/ids.ts";
import type { Store } from "../../src/store/index.ts";

/** The admin token of the fixture config. */
export const ADMIN_TOKEN = "test-admin-token-0123456789";
const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

/** TOML of the admin fixtures; `token` null gives open loopback mode. */
export function adminToml(opts: { token?: string | null; targetUrl?: string } = {}): string {
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  const url = opts.targetUrl ?? "http://127.0.0.1:9/hooks";
  return `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
${token === null ? "" : `[admin]\ntoken = "${token}"`}

[[sources]]
name = "shop"
verify = { scheme = "none" }
dedupe = { key = ["$.id"] }
event_type = "$.type"

[[sources]]
name = "billing"
verify = { scheme = "shared-secret", header = "X-Webhook-Secret", secret = "billing-secret" }
dedupe = { key = ["$.id"] }
event_type = "$.type"

[[targets]]
name = "orders"
url = "${url}"
signing = { secret = "${WHSEC}" }

[[targets]]
name = "audit"
url = "${url}"
signing = { secret = "${WHSEC}" }

[[routes]]
from = "shop"
to = ["orders", "audit"]

[[routes]]
from = "billing"
to = ["orders"]
`;
}

/** One seeded event and the delivery outcomes it was given. */
export interface SeededEvent {
  id: string;
  source: "shop" | "billing";
  type: string;
  dedupeKey: string;
  receivedAt: number;
  /** target → status of its one delivery. */
  statuses: Record<string, string>;
}

const TYPES = ["order.created", "order.paid", "invoice.sent"];

/** The outcome the seed gives delivery `i` of an event: mostly delivered, some failed / pending / paused. */
function statusFor(i: number, target: string): string {
  if (target === "audit") return i % 7 === 0 ? "failed" : "delivered";
  return i % 10 === 3 ? "failed" : i % 10 === 5 ? "pending" : i % 25 === 0 ? "paused" : "delivered";
}

/** Stores `count` events one second apart from `startMs`, with deliveries and attempts. */
export async function seedEvents(store: Store, count: number, startMs: number): Promise<SeededEvent[]> {
  const seeded: SeededEvent[] = [];
  for (let base = 0; base < count; base += 500) {
    const batch = [];
    for (let i = base; i < Math.min(count, base + 500); i++) {
      const receivedAt = startMs + i * 1000;
      const source = i % 3 === 0 ? "billing" : "shop";
      const targets = source === "shop" ? ["orders", "audit"] : ["orders"];
      const e: SeededEvent = {
        id: makeId("evt", receivedAt, randomBytes(10)),
        source,
        type: TYPES[i % 3]!,
        dedupeKey: `${source === "shop" ? "ord" : "inv"}_${String(i).padStart(6, "0")}`,
        receivedAt,
        statuses: Object.fromEntries(targets.map((t) => [t, statusFor(i, t)])),
      };
      seeded.push(e);
      const body = JSON.stringify({ id: e.dedupeKey, type: e.type, amount: i * 100, customer: { name: `Customer ${i}` } });
      batch.push(
        store.writer.submit({
          id: e.id, source, eventType: e.type, dedupeKey: e.dedupeKey, dedupeWindowMs: 0, receivedAt,
          method: "POST", path: `/in/${source}`, query: "",
          headers: [["content-type", "application/json"], ["user-agent", "Seeder/1.0"], ["x-webhook-secret", "billing-secret"]],
          body: new TextEncoder().encode(body), contentType: "application/json", remoteAddr: "203.0.113.7",
          deliveries: targets.map((t) => ({ id: makeId("dlv", receivedAt, randomBytes(10)), target: t, status: "pending" as const })),
        }),
      );
    }
    await Promise.all(batch);
  }
  await applyOutcomes(store, seeded);
  return seeded;
}

// What the delivery engine would have written: final statuses and one attempt per finished delivery.
async function applyOutcomes(store: Store, seeded: SeededEvent[]): Promise<void> {
  const client = store.reads;
  const byId = new Map(seeded.map((e) => [e.id, e]));
  const rows = await client.execute("SELECT id, event_id, target FROM deliveries");
  const stmts = [];
  for (const r of rows.rows) {
    const e = byId.get(String(r.event_id));
    if (!e) continue;
    const status = e.statuses[String(r.target)]!;
    if (status === "pending") continue;
    const finished = status === "delivered" || status === "failed";
    stmts.push({
      sql: "UPDATE deliveries SET status = ?, attempts = ?, last_error = ? WHERE id = ?",
      args: [status, finished ? 1 : 0, status === "failed" ? "HTTP 500" : null, String(r.id)],
    });
    if (finished)
      stmts.push({
        sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        args: [
          makeId("att", e.receivedAt + 50, randomBytes(10)), String(r.id), e.id, String(r.target), e.receivedAt + 50,
          status === "delivered" ? 200 : 500, status === "delivered" ? 42 : 310, status === "failed" ? "HTTP 500" : null,
          status === "delivered" ? '{"ok":true}' : "Internal Server Error",
        ],
      });
  }
  for (let i = 0; i < stmts.length; i += 2000) await client.batch(stmts.slice(i, i + 2000), "write");
}
