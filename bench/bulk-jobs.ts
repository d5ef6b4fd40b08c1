/**
 * Bulk actions on a big store (by hand; seed first: `bun bench/seed-1m.ts`).
 *
 *   bun bench/bulk-jobs.ts          # BENCH_DB=/tmp/hookrelay-bench-1m/relay.db BENCH_RUNS=10 BENCH_RATE=1000
 *                                   # BENCH_PART=counts or BENCH_PART=job runs one part only
 *
 * 1. Dry-run counts: POST /api/events/redeliver {"dryRun": true} for several
 *    filters, timed in-process around adminApp.handle (server-side time), and
 *    the events page, which shows the same count. Target: ≤ 500 ms each.
 * 2. A bulk redeliver of 100,000 events (type=push: one delivery each, to a
 *    sink process) through the compiled binary on a COPY of the store, while
 *    an open-loop ingest load (BENCH_RATE requests/s) runs: ingest p50/p99
 *    idle, then while the job runs (target: p99 within 2× of idle), the job's
 *    duration, and how long until the sink had every delivery.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/index.ts";
import { silentLogger } from "../src/log/logger.ts";
import { openStore } from "../src/store/index.ts";
import { ensureBinary } from "../test/support/binary.ts";
import { BENCH_DB, BENCH_SOURCES, BENCH_TOKEN, benchToml } from "./admin-fixture.ts";
import { fixedRate, freePort, pct, waitForHttp } from "./wrk.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const PART = process.env.BENCH_PART ?? "both";
const auth = { authorization: `Bearer ${BENCH_TOKEN}`, "content-type": "application/json" };

// 1. Dry-run counts, in-process.
if (PART !== "job") {
  const loaded = loadConfig(benchToml(), { env: {}, baseDir: "/tmp" });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const config = loaded.config;
  config.store.url = `file:${BENCH_DB}`;
  const store = await openStore({ url: config.store.url, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true });
  const app = createApp({ config, store, log: silentLogger });
  const day = 86_400_000;
  const filters: [string, Record<string, unknown>][] = [
    ["every event", {}],
    ["source=shop (half)", { source: "shop" }],
    ["source=rare", { source: "rare" }],
    ["type=push", { type: "push" }],
    ["status=failed", { status: "failed" }],
    ["status=pending", { status: "pending" }],
    ["status=delivered", { status: "delivered" }],
    ["target=audit&status=delivered", { target: "audit", status: "delivered" }],
    ["target=orders&status=failed", { target: "orders", status: "failed" }],
    ["source=shop&status=failed", { source: "shop", status: "failed" }],
    ["status=unrouted", { status: "unrouted" }],
    ["since 24h", { since: "24h" }],
    ["status=failed&since 24h", { status: "failed", since: "24h" }],
    ["source=rare&type=ping&since 3d", { source: "rare", type: "ping", since: Date.now() - 3 * day }],
    ["text=shop_ (prefix of half the keys)", { text: "shop_" }],
    ["text=exact key", { text: "rare_000abc" }],
  ];
  const time = async (req: () => Request) => {
    const t0 = performance.now();
    const res = await app.adminApp.handle(req());
    const body = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} ${body.slice(0, 200)}`);
    return { ms: performance.now() - t0, body };
  };
  const quantiles = (times: number[]) => {
    times.sort((a, b) => a - b);
    return { p50: pct(times, 0.5), p95: pct(times, 0.95), max: times.at(-1)! };
  };
  const login = await app.adminApp.handle(
    new Request("http://127.0.0.1/login", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" }, body: `token=${BENCH_TOKEN}` }),
  );
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  console.log(`store: ${BENCH_DB}; ${RUNS} runs per case after 2 warm-ups\n`);
  console.log("| filter | matched | dry run p50 ms | p95 ms | events page p50 ms | p95 ms |");
  console.log("|---|---:|---:|---:|---:|---:|");
  let worst = 0;
  for (const [name, filter] of filters) {
    const dry = () => new Request("http://127.0.0.1/api/events/redeliver", { method: "POST", headers: auth, body: JSON.stringify({ filter, dryRun: true }) });
    const query = new URLSearchParams(Object.entries(filter).map(([k, v]) => [k === "text" ? "q" : k, String(v)])).toString();
    const ui = () => new Request(`http://127.0.0.1/?${query}`, { headers: { cookie } });
    for (let i = 0; i < 2; i++) await time(dry), await time(ui);
    const d: number[] = [];
    const u: number[] = [];
    let matched = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await time(dry);
      d.push(r.ms);
      matched = (JSON.parse(r.body) as { matched: number }).matched;
      u.push((await time(ui)).ms);
    }
    const dq = quantiles(d);
    const uq = quantiles(u);
    worst = Math.max(worst, dq.p95);
    console.log(`| ${name} | ${matched.toLocaleString("en")} | ${dq.p50.toFixed(1)} | ${dq.p95.toFixed(1)} | ${uq.p50.toFixed(1)} | ${uq.p95.toFixed(1)} |`);
  }
  console.log(`\nworst dry-run p95: ${worst.toFixed(1)} ms (target ≤ 500 ms)\n`);
  await store.close();
}

// 2. A bulk redeliver of 100,000 events while ingest runs, through the binary on a copy of the store.
if (PART !== "counts") {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-bulk-bench-"));
  try {
    copyFileSync(BENCH_DB, join(dir, "relay.db"));
    // The seed's 1 % pending would go out at start and mix with what is measured: mark them delivered.
    const copy = await openStore({ url: `file:${join(dir, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true });
    await copy.reads.execute("UPDATE deliveries SET status = 'delivered' WHERE status = 'pending'");
    await copy.close();
    let received = 0;
    const sink = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.arrayBuffer();
        // Only the job's deliveries (github events); the load's own go to orders from shop.
        if (req.headers.get("hookrelay-source") === "github") received++;
        return new Response("ok");
      },
    });
    const [pub, adm] = [freePort(), freePort()];
    const whsec = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";
    // The seed's sources and targets; the targets point at the sink; shop dedupes on X-Request-Id (the load's own ids).
    writeFileSync(
      join(dir, "hookrelay.toml"),
      `log_level = "warn"
[server]
listen = "127.0.0.1:${pub}"
admin_listen = "127.0.0.1:${adm}"
[store]
url = "file:./relay.db"
[admin]
token = "${BENCH_TOKEN}"
${BENCH_SOURCES.map(([name]) => `[[sources]]\nname = "${name}"\nverify = { scheme = "none" }\n${name === "shop" ? 'dedupe = { key = ["header:X-Request-Id"] }\n' : ""}`).join("\n")}
${["orders", "audit"].map((t) => `[[targets]]\nname = "${t}"\nurl = "http://127.0.0.1:${sink.port}/hooks"\nsigning = { secret = "${whsec}" }\n`).join("\n")}
[[routes]]
from = "shop"
to = ["orders"]
[[routes]]
from = "github"
to = ["audit"]
`,
    );
    const bin = await ensureBinary();
    const proc = Bun.spawn([bin, "serve", "--config", "hookrelay.toml"], { cwd: dir, stdout: "inherit", stderr: "inherit" });
    const admin = `http://127.0.0.1:${adm}`;
    await waitForHttp(`${admin}/healthz`, proc);
    const target = { url: `http://127.0.0.1:${pub}/in/shop`, body: JSON.stringify({ type: "order.paid", data: { amount: 4200 } }), signature: "" };
    const show = (label: string, r: Awaited<ReturnType<typeof fixedRate>>) => {
      const lat = r.latMs.sort((a, b) => a - b);
      console.log(`${label}: ${r.ok} acked, ${r.failed} failed, ${r.skipped} skipped; p50 ${pct(lat, 0.5).toFixed(1)} ms, p99 ${pct(lat, 0.99).toFixed(1)} ms, max ${lat.at(-1)?.toFixed(1)} ms`);
      return pct(lat, 0.99);
    };
    await fixedRate(target, RATE, 3, "warm");
    const idle = show(`ingest idle at ${RATE}/s, 10 s`, await fixedRate(target, RATE, 10, "idle"));
    received = 0;
    const t0 = performance.now();
    const start = await fetch(`${admin}/api/events/redeliver`, { method: "POST", headers: auth, body: JSON.stringify({ filter: { type: "push" } }) });
    const { matched, job } = (await start.json()) as { matched: number; job: string };
    console.log(`bulk redeliver type=push: matched ${matched}, job ${job} (answered in ${(performance.now() - t0).toFixed(0)} ms)`);
    let jobDoneMs = 0;
    const watch = (async () => {
      for (;;) {
        const j = (await (await fetch(`${admin}/api/jobs/${job}`, { headers: auth })).json()) as { status: string; done: number; affected: number };
        if (j.status !== "running") {
          jobDoneMs = performance.now() - t0;
          return console.log(`job ${j.status}: ${j.done} events, ${j.affected} deliveries created, in ${(jobDoneMs / 1000).toFixed(1)} s`);
        }
        await Bun.sleep(250);
      }
    })();
    const during = show(`ingest while the job runs at ${RATE}/s, 10 s`, await fixedRate(target, RATE, 10, "busy"));
    await watch;
    const deadline = performance.now() + 600_000;
    while (received < matched && performance.now() < deadline) await Bun.sleep(200);
    console.log(`sink had ${received} deliveries ${((performance.now() - t0) / 1000).toFixed(1)} s after the job started`);
    console.log(`\ningest p99 while the job ran / idle: ${(during / idle).toFixed(2)}× (target ≤ 2×)`);
    proc.kill("SIGTERM");
    await proc.exited;
    sink.stop(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
