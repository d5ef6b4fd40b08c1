/**
 * Delivery benchmark (by hand: `bun bench/deliver.ts [events]`). In one run:
 *  1. a bare `fetch` loop at concurrency 64 against a local Bun.serve target
 *     (in its own process) — the ceiling;
 *  2. the delivery scheduler (target concurrency 64, durable store with
 *     synchronous=FULL) draining a preloaded backlog to the same target;
 *  3. end-to-end latency at low load: a provider POST to the relay's ingest
 *     endpoint (in-process app, real HTTP) until the target receives it.
 * Prints deliveries/s, the ratio to the bare loop, and latency percentiles.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/index.ts";
import { makeId } from "../src/core/ids.ts";
import { createScheduler } from "../src/delivery/scheduler.ts";
import { silentLogger } from "../src/log/logger.ts";
import { openStore } from "../src/store/index.ts";

const EVENTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = 64;
const LATENCY_SAMPLES = 300;
const SECRET = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
const BODY = new TextEncoder().encode(JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, note: "ë Ñ ú ✓" } }) + "\n");
const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-deliver-"));

// The target lives in its own process, as a real internal service would.
const targetProc = Bun.spawn(
  [process.execPath, "-e", `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { await req.arrayBuffer(); return new Response("ok"); } }); console.log(s.port);`],
  { stdout: "pipe" },
);
const reader = targetProc.stdout.getReader();
const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
const url = `http://127.0.0.1:${port}/hooks`;

async function bareLoop(n: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) {
        const res = await fetch(url, { method: "POST", body: BODY, headers: { "content-type": "application/json" } });
        await res.arrayBuffer();
      }
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

/** CPU ms (user + system) of each thread of this process, from /proc; empty elsewhere. */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
      out.set(tid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100); // clock ticks, USER_HZ = 100
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return out;
}
let cpu = { mainUs: Number.NaN, busiestOtherUs: Number.NaN, totalUs: Number.NaN };

async function relayDrain(n: number): Promise<{ rate: number; delivered: number }> {
  const store = await openStore({ url: `file:${join(dir, "drain.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 1000 });
  const rnd = () => crypto.getRandomValues(new Uint8Array(10));
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, () => {
        const now = Date.now();
        const id = makeId("evt", now, rnd());
        return store.writer.submit({
          id, source: "bench", eventType: "order.paid", dedupeKey: id, dedupeWindowMs: 0, receivedAt: now, method: "POST",
          path: "/in/bench", query: "", headers: [["content-type", "application/json"]], body: BODY, contentType: "application/json",
          remoteAddr: "127.0.0.1", deliveries: [{ id: makeId("dlv", now, rnd()), target: "sink", status: "pending" }],
        });
      }),
    );
  }
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const scheduler = createScheduler({
    store,
    targets: [
      {
        name: "sink", kind: "push", url, signingSecrets: [SECRET], token: null, timeoutMs: 10_000, connectTimeoutMs: 5_000,
        retry: { scheduleMs: [0, 5_000], jitter: 0.2 }, concurrency: CONCURRENCY, ratePerSec: null, ordered: false,
        disableAfterMs: 86_400_000, enabled: true,
      },
    ],
    clock: Date.now,
    random: Math.random,
    pollMs: 1000,
    onAttempt: () => {
      if (++done === n) finish();
    },
  });
  const started = performance.now();
  const cpuBefore = threadCpuMs();
  await scheduler.start();
  await all;
  const rate = n / ((performance.now() - started) / 1000);
  const cpuAfter = threadCpuMs();
  const spent = (tid: string) => (cpuAfter.get(tid) ?? 0) - (cpuBefore.get(tid) ?? 0);
  const main = spent(String(process.pid));
  const others = [...cpuAfter.keys()].filter((t) => t !== String(process.pid)).map(spent).sort((a, b) => b - a);
  cpu = { mainUs: (main * 1000) / n, busiestOtherUs: ((others[0] ?? 0) * 1000) / n, totalUs: ((main + others.reduce((a, b) => a + b, 0)) * 1000) / n };
  await scheduler.stop();
  const delivered = Number((await store.reads.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'delivered'")).rows[0]!.n);
  await store.close();
  return { rate, delivered };
}

const acks: number[] = [];
async function endToEnd(samples: number): Promise<number[]> {
  // The receiving end is in this process so that send and receive share one clock.
  let arrived: (() => void) | null = null;
  const sink = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { await req.arrayBuffer(); arrived?.(); return new Response("ok"); } });
  const loaded = loadConfig(
    `[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:${join(dir, "e2e.db")}"
[[sources]]
name = "bench"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "sink"
url = "http://127.0.0.1:${sink.port}/hooks"
signing = { secret = "${SECRET}" }
[[routes]]
from = "bench"
to = ["sink"]
`,
    { env: {}, baseDir: dir },
  );
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const config = loaded.config;
  const store = await openStore({ url: config.store.url, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 1000 });
  const delivery = createScheduler({ store, targets: config.targets, clock: Date.now, random: Math.random, pollMs: 1000 });
  const app = createApp({ config, store, log: silentLogger, delivery });
  app.publicApp.listen({ hostname: "127.0.0.1", port: 0 });
  await delivery.start();
  const ingest = `http://127.0.0.1:${app.publicApp.server!.port}/in/bench`;
  const latencies: number[] = [];
  for (let i = 0; i < samples + 20; i++) {
    const got = new Promise<void>((r) => (arrived = r));
    const t0 = performance.now();
    // A distinct body each time: the source dedupes on the body hash.
    const body = JSON.stringify({ type: "order.paid", data: { id: `ord_${i}`, note: "ë Ñ ú ✓" } }) + "\n";
    const res = await fetch(ingest, { method: "POST", body, headers: { "content-type": "application/json" } });
    await res.arrayBuffer();
    const acked = performance.now() - t0;
    await got;
    if (i >= 20) {
      latencies.push(performance.now() - t0); // the first ones warm up connections
      acks.push(acked);
    }
  }
  await delivery.stop();
  await app.publicApp.stop();
  sink.stop(true);
  await store.close();
  return latencies.sort((a, b) => a - b);
}

await bareLoop(2000); // warm-up
const bare = await bareLoop(EVENTS);
const relay = await relayDrain(EVENTS);
const lat = await endToEnd(LATENCY_SAMPLES);
targetProc.kill();
rmSync(dir, { recursive: true, force: true });

const pct = (p: number, xs = lat) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!.toFixed(2);
acks.sort((a, b) => a - b);
console.log(`${EVENTS} deliveries, concurrency ${CONCURRENCY}, body ${BODY.length} B, durable store (synchronous=FULL)`);
console.log(`bare fetch loop   ${bare.toFixed(0).padStart(7)} req/s`);
console.log(`hookrelay         ${relay.rate.toFixed(0).padStart(7)} deliveries/s   (${relay.delivered} delivered)`);
console.log(`  CPU per delivery ${cpu.totalUs.toFixed(0)} µs in this process: main thread ${cpu.mainUs.toFixed(0)} µs, busiest other thread (the writer) ${cpu.busiestOtherUs.toFixed(0)} µs`);
console.log(`ratio             ${(relay.rate / bare).toFixed(2)}× the bare loop (target ≥ 0.5×)`);
console.log(`end-to-end        p50 ${pct(50)} ms   p90 ${pct(90)} ms   p99 ${pct(99)} ms   (provider POST → target receive, ${lat.length} sequential events; target p50 ≤ 5 ms)`);
console.log(`  of which ack   p50 ${pct(50, acks)} ms   p90 ${pct(90, acks)} ms   (provider POST → 200 from ingest: durable commit)`);
