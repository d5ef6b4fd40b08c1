/**
 * Bulk jobs through the compiled binary. One survives a restart: stopped
 * midway (SIGTERM), the relay gives the job's lease back, and the next start
 * resumes it from its cursor — every matched event gets exactly one new
 * delivery, and each goes out once. Another redelivers to an ordered target,
 * which receives the events in the order they were received.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/index.ts";
import { ADMIN_TOKEN, seedEvents } from "../support/admin-fixture.ts";
import { startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const tmp = tempDir("hookrelay-bulk-");
afterAll(() => tmp.remove());

const EVENTS = 8000;
const START = Date.now() - 86_400_000;
const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";
const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

const target = (port: number | undefined, name: string) => `[[targets]]\nname = "${name}"\nurl = "http://127.0.0.1:${port}/${name}"\nsigning = { secret = "${WHSEC}" }\n`;
const dirOf = (file: string) => file.slice(0, file.lastIndexOf("/"));

/**
 * A relay's directory of its own: its config (sources shop and billing, `targets`, shop routed to
 * orders and audit) and its store as an earlier run left it, `events` events whose deliveries are settled.
 */
async function relayDir(parent: string, events: number, targets: string[]) {
  const dir = mkdtempSync(join(parent, "relay-"));
  const cfg = join(dir, "hookrelay.toml");
  writeFileSync(cfg, `[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[admin]
token = "${ADMIN_TOKEN}"
[[sources]]
name = "shop"
verify = { scheme = "none" }
[[sources]]
name = "billing"
verify = { scheme = "none" }
${targets.join("\n")}
[[routes]]
from = "shop"
to = ["orders", "audit"]
`);
  const store = await openStore({ url: `file:${join(dir, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
  const seeded = await seedEvents(store, events, START);
  await store.close();
  return { cfg, seeded };
}

test("a bulk redeliver stopped by a restart resumes where it was and makes each delivery once", async () => {
  const audit = new Map<string, number>();
  const sink = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.arrayBuffer();
      const id = req.headers.get("webhook-id")!;
      if (new URL(req.url).pathname === "/audit") audit.set(id, (audit.get(id) ?? 0) + 1);
      return new Response("ok");
    },
  });
  const { cfg, seeded } = await relayDir(tmp.dir, EVENTS, [`${target(sink.port, "orders")}concurrency = 32\n`, `${target(sink.port, "audit")}concurrency = 32\n`]);

  let relay = await startBinary(["serve", "--config", cfg], dirOf(cfg));
  const job = async () => (await (await fetch(`${relay.adminUrl}/api/jobs/${jobId}`, { headers: auth })).json()) as { status: string; done: number; total: number; affected: number };
  const res = await fetch(`${relay.adminUrl}/api/events/redeliver`, { method: "POST", headers: auth, body: JSON.stringify({ filter: {}, target: "audit" }) });
  const { matched, job: jobId } = (await res.json()) as { matched: number; job: string };
  expect(matched).toBe(EVENTS);
  let deadline = Date.now() + 30_000;
  while ((await job()).done < 400 && Date.now() < deadline) await Bun.sleep(10);
  expect(await relay.stop()).toBe(0);

  relay = await startBinary(["serve", "--config", cfg], dirOf(cfg));
  const midway = await job();
  expect(midway.done).toBeGreaterThanOrEqual(400);
  expect(midway.done).toBeLessThan(EVENTS); // the restart really was midway
  deadline = Date.now() + 60_000;
  while ((await job()).status === "running" && Date.now() < deadline) await Bun.sleep(50);
  expect(await job()).toMatchObject({ status: "done", total: EVENTS, done: EVENTS, affected: EVENTS });
  deadline = Date.now() + 60_000;
  while (audit.size < EVENTS && Date.now() < deadline) await Bun.sleep(100);
  expect(await relay.stop()).toBe(0);
  sink.stop(true);
  expect(audit.size).toBe(EVENTS);
  expect(new Set(audit.values())).toEqual(new Set([1]));
  expect(new Set(audit.keys())).toEqual(new Set(seeded.map((e) => e.id)));
}, 150_000);

test("a bulk redeliver to an ordered target sends the events in the order they were received, across the job's batches", async () => {
  const got: string[] = [];
  const sink = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.arrayBuffer();
      if (new URL(req.url).pathname === "/ledger") got.push(req.headers.get("webhook-id")!);
      return new Response("ok");
    },
  });
  const targets = [target(sink.port, "orders"), target(sink.port, "audit"), `${target(sink.port, "ledger")}ordered = true\n`];
  const { cfg, seeded } = await relayDir(tmp.dir, 400, targets);
  const relay = await startBinary(["serve", "--config", cfg], dirOf(cfg));
  const res = await fetch(`${relay.adminUrl}/api/events/redeliver`, { method: "POST", headers: auth, body: JSON.stringify({ filter: { source: "shop" }, target: "ledger" }) });
  const shop = seeded.filter((e) => e.source === "shop").map((e) => e.id);
  expect(((await res.json()) as { matched: number }).matched).toBe(shop.length);
  expect(shop.length).toBeGreaterThan(100); // more than two of the job's batches (50 events each)
  const deadline = Date.now() + 30_000;
  while (got.length < shop.length && Date.now() < deadline) await Bun.sleep(50);
  expect(await relay.stop()).toBe(0);
  sink.stop(true);
  expect(got).toEqual([...shop].sort());
}, 60_000);
