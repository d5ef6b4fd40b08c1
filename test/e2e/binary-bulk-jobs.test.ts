/**
 * A bulk job through the compiled binary survives a restart: stopped midway
 * (SIGTERM), the relay gives the job's lease back, and the next start resumes
 * it from its cursor — every matched event gets exactly one new delivery, and
 * each goes out once.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
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
  const cfg = join(tmp.dir, "hookrelay.toml");
  const target = (name: string) => `[[targets]]\nname = "${name}"\nurl = "http://127.0.0.1:${sink.port}/${name}"\nsigning = { secret = "${WHSEC}" }\nconcurrency = 32\n`;
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
${target("orders")}
${target("audit")}
[[routes]]
from = "shop"
to = ["orders", "audit"]
`);
  // The store as an earlier run left it: events whose deliveries are settled.
  const store = await openStore({ url: `file:${join(tmp.dir, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
  const seeded = await seedEvents(store, EVENTS, START);
  await store.close();

  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  let relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  const job = async () => (await (await fetch(`${relay.adminUrl}/api/jobs/${jobId}`, { headers: auth })).json()) as { status: string; done: number; total: number; affected: number };
  const res = await fetch(`${relay.adminUrl}/api/events/redeliver`, { method: "POST", headers: auth, body: JSON.stringify({ filter: {}, target: "audit" }) });
  const { matched, job: jobId } = (await res.json()) as { matched: number; job: string };
  expect(matched).toBe(EVENTS);
  let deadline = Date.now() + 30_000;
  while ((await job()).done < 400 && Date.now() < deadline) await Bun.sleep(10);
  expect(await relay.stop()).toBe(0);

  relay = await startBinary(["serve", "--config", cfg], tmp.dir);
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
