/**
 * Bulk actions on a big store (by hand; seed first: `bun bench/seed-1m.ts`).
 *
 *   bun bench/bulk-jobs.ts          # BENCH_DB=/tmp/hookrelay-bench-1m/relay.db BENCH_RUNS=10 BENCH_RATE=1000
 *                                   # BENCH_PART=counts or BENCH_PART=job runs one part only
 *
 * 1. Dry-run counts: POST /api/events/redeliver {"dryRun": true} for several
 *    filters, timed in-process around adminApp.handle (server-side time), and
 *    the events page, which shows the same count. Target: ≤ 500 ms each.
 * 2. Bulk redelivers of 100,000 events (type=push, then type=pull_request, to
 *    target audit, at a sink process) through the compiled binary on a COPY
 *    of the store, while an open-loop ingest load (BENCH_RATE requests/s)
 *    runs: ingest p50/p99 idle; (A) while the job runs with audit disabled
 *    (the job's rows alone); (B) while audit's 100,000 deliveries go out
 *    (the engine alone); (C) while a job runs with its deliveries going out.
 *    Target: ingest p99 within 2× of idle.
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
import { fixedRate, freePort, pct, SINK_COMMAND, sinkUrlOf, waitForHttp } from "./wrk.ts";

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
    // text: the words of GET /api/events?text= (the page's box: the same words, or an exact key).
    ["text=EUR (a word of every event)", { text: "EUR" }],
    ["text=refunded (1 event in 10)", { text: "refunded" }],
    ["text=cus_1234 (200 events)", { text: "cus_1234" }],
    ["text=EUR&source=rare&status=failed", { text: "EUR", source: "rare", status: "failed" }],
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
  const procs: { kill(): void }[] = [];
  try {
    copyFileSync(BENCH_DB, join(dir, "relay.db"));
    // The seed's 1 % pending would go out at start and mix with what is measured: mark them delivered.
    const copy = await openStore({ url: `file:${join(dir, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true });
    await copy.reads.execute("UPDATE deliveries SET status = 'delivered' WHERE status = 'pending'");
    await copy.close();
    // The targets' receiver in its own process, as a real service would be: it takes no time from the load's.
    const sinkProc = Bun.spawn(SINK_COMMAND, { stdout: "pipe", stderr: "inherit" });
    procs.push(sinkProc);
    const sinkUrl = await sinkUrlOf(sinkProc);
    const [pub, adm] = [freePort(), freePort()];
    const whsec = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";
    // The seed's sources and targets, both at the sink; shop (the load) dedupes on X-Request-Id and goes to orders.
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
${["orders", "audit"].map((t) => `[[targets]]\nname = "${t}"\nurl = "${sinkUrl}"\nsigning = { secret = "${whsec}" }\n`).join("\n")}
[[routes]]
from = "shop"
to = ["orders"]
`,
    );
    const bin = await ensureBinary();
    const proc = Bun.spawn([bin, "serve", "--config", "hookrelay.toml"], { cwd: dir, stdout: "inherit", stderr: "inherit" });
    procs.push(proc);
    const admin = `http://127.0.0.1:${adm}`;
    await waitForHttp(`${admin}/healthz`, proc);
    const api = async (path: string, body?: unknown) =>
      (await fetch(`${admin}${path}`, { method: body === undefined ? "GET" : "POST", headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;
    const target = { url: `http://127.0.0.1:${pub}/in/shop`, body: JSON.stringify({ type: "order.paid", data: { amount: 4200 } }), signature: "" };
    const ingest = async (label: string, seconds = 10) => {
      const r = await fixedRate(target, RATE, seconds, label);
      const lat = r.latMs.sort((a, b) => a - b);
      console.log(`| ${label} | ${r.ok} | ${r.failed + r.skipped} | ${pct(lat, 0.5).toFixed(1)} | ${pct(lat, 0.99).toFixed(1)} | ${lat.at(-1)?.toFixed(1)} |`);
      return pct(lat, 0.99);
    };
    const startJob = async (type: string) => {
      const t0 = performance.now();
      const { matched, job } = await api("/api/events/redeliver", { filter: { type }, target: "audit" });
      const done = (async () => {
        for (;;) {
          const j = await api(`/api/jobs/${job}`);
          if (j.status !== "running") return { ...j, seconds: (performance.now() - t0) / 1000 };
          await Bun.sleep(250);
        }
      })();
      return { matched, done };
    };
    const auditQueue = async () => ((await api("/api/targets")).targets as { name: string; queueDepth: number }[]).find((t) => t.name === "audit")!.queueDepth;

    await fixedRate(target, RATE, 3, "warm");
    console.log(`ingest at ${RATE}/s (open loop), 10 s each; every acked event is also delivered to orders\n`);
    console.log("| phase | acked | failed | p50 ms | p99 ms | max ms |");
    console.log("|---|---:|---:|---:|---:|---:|");
    const idle = await ingest("idle");
    // A. The job alone: audit disabled, so its 100,000 new deliveries are written paused.
    await api("/api/targets/audit/disable", {});
    const a = await startJob("push");
    const jobAlone = await ingest("A: job running (100,000 events; audit disabled: rows only)");
    const aDone = await a.done;
    // B. The engine alone: audit enabled, its 100,000 paused deliveries due at once.
    await api("/api/targets/audit/enable", {});
    const t0 = performance.now();
    const delivering = await ingest("B: 100,000 deliveries going out to audit");
    while ((await auditQueue()) > 0) await Bun.sleep(250);
    const drainedSec = (performance.now() - t0) / 1000;
    // C. Both: another 100,000 events redelivered while audit is enabled.
    const c = await startJob("pull_request");
    const both = await ingest("C: job running and its deliveries going out");
    const cDone = await c.done;
    while ((await auditQueue()) > 0) await Bun.sleep(250);
    console.log(`\njob A: ${aDone.done} events, ${aDone.affected} deliveries, ${aDone.seconds.toFixed(1)} s; B: audit's queue drained in ${drainedSec.toFixed(1)} s;`);
    console.log(`job C: ${cDone.done} events, ${cDone.affected} deliveries, ${cDone.seconds.toFixed(1)} s`);
    console.log(`ingest p99 / idle: A ${(jobAlone / idle).toFixed(2)}×, B ${(delivering / idle).toFixed(2)}×, C ${(both / idle).toFixed(2)}× (target ≤ 2×)`);
    proc.kill("SIGTERM");
    await proc.exited;
  } finally {
    for (const p of procs) p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
