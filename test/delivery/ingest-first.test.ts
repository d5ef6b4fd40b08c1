/**
 * Ingest first, with the compiled binary: a burst of providers (more at once
 * than the relay can ack) makes the delivery engine yield to them, and once
 * the burst is over every acknowledged event still reaches the target.
 * /metrics shows it (hookrelay_delivery_yielding).
 */
import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const SECRET = "burst-secret";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("a burst of providers makes deliveries yield to their acks, and every acked event is delivered after it", async () => {
  const tmp = tempDir("hookrelay-burst-");
  cleanups.push(() => tmp.remove());
  const delivered = new Set<string>();
  let inFlight = 0;
  let maxInFlight = 0;
  const sink = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await req.arrayBuffer();
      await Bun.sleep(2);
      delivered.add(req.headers.get("webhook-id")!);
      inFlight--;
      return new Response("ok");
    },
  });
  cleanups.push(() => sink.stop(true));
  const config = join(tmp.dir, "hookrelay.toml");
  writeFileSync(
    config,
    `log_level = "info"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "burst"
verify = { scheme = "hmac", header = "X-Signature", algorithm = "sha256", encoding = "hex", signed = "{body}", secret = "${SECRET}" }
dedupe = { key = ["$.n"] }
[[targets]]
name = "app"
url = "http://127.0.0.1:${sink.port}/hooks"
concurrency = 16
[[routes]]
from = "burst"
to = ["app"]
`,
  );
  // The wait that counts as a queue, lowered from 50 ms to 1 ms so that 128 senders make one
  // on any machine, however fast its CPU and disk.
  const relay = await startBinary(["serve", "--config", config], tmp.dir, { HOOKRELAY_INGEST_FIRST_WAIT_MS: "1" });
  cleanups.push(() => relay.stop());
  // 128 providers at once for 2 s, and on (at most 15 s, 20,000 events) until /metrics has shown
  // the yield and 500 are acked: a cold, slow machine may need longer for either.
  const acked: string[] = [];
  let n = 0;
  const started = performance.now();
  const gauge = async (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(await (await fetch(`${relay.adminUrl}/metrics`)).text())?.[1]);
  // /metrics says so while it happens: scrapes every 300 ms during the burst.
  const yieldingSeen: number[] = [];
  const enough = () => acked.length > 500 && yieldingSeen.includes(1);
  const bursting = () => n < 20_000 && performance.now() - started < (enough() ? 2_000 : 15_000);
  const scrapes = (async () => {
    for (;;) {
      await Bun.sleep(300);
      if (!bursting()) return;
      yieldingSeen.push(await gauge("hookrelay_delivery_yielding"));
    }
  })();
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (bursting()) {
        const body = JSON.stringify({ n: n++ });
        const res = await fetch(`${relay.publicUrl}/in/burst`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", "x-signature": createHmac("sha256", SECRET).update(body).digest("hex") },
        });
        if (res.status === 200) acked.push(((await res.json()) as { id: string }).id);
        else await res.arrayBuffer();
      }
    }),
  );
  await scrapes;
  expect(acked.length).toBeGreaterThan(500);
  expect(yieldingSeen).toContain(1);
  const deadline = performance.now() + 60_000;
  while (acked.some((id) => !delivered.has(id)) && performance.now() < deadline) await Bun.sleep(100);
  expect(acked.filter((id) => !delivered.has(id))).toEqual([]);
  expect(maxInFlight).toBeLessThanOrEqual(16);
  // The cap relaxes a period at a time once the queue is gone (2 → 4 → 8 → 16: ~0.4 s), with or
  // without deliveries left to make; the episode's log line is written when it ends.
  const relaxedBy = performance.now() + 10_000;
  while ((await gauge("hookrelay_delivery_yielding")) !== 0 && performance.now() < relaxedBy) await Bun.sleep(50);
  expect(await gauge("hookrelay_delivery_yielding")).toBe(0);
  const line = relay.logs().split("\n").find((l) => l.includes("deliveries yielded to queueing ingest requests"));
  expect(line).toBeDefined();
  expect(JSON.parse(line!).lowestInFlight).toBeLessThanOrEqual(4);
  expect(await gauge("hookrelay_deliveries_in_flight")).toBe(0);
}, 90_000);
