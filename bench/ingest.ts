/**
 * Ingest benchmark (by hand: `bun bench/ingest.ts`). In one run, wrk at 64
 * connections drives (1) a bare Bun.serve POST handler — the ceiling — and
 * (2) the compiled hookrelay with one HMAC source and one route, on a durable
 * store (synchronous=FULL). Prints req/s, p50/p99 and the ratio, then checks
 * that every acked request was stored. Before wrk, an open-loop load at fixed
 * rates (BENCH_RATES, default 1000,3000/s) gives the latency below
 * saturation. Before each measured wrk run the server gets the same load for
 * BENCH_WARMUP (3s), unmeasured: servers are measured warm. Needs `wrk`.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../test/support/binary.ts";
import { ackedBy, fixedRate, pct, processCpuMs, runWrk as runWrkWith, startBenchRelay, WARMUP, warmUp, writeWrkScript, type WrkResult } from "./wrk.ts";

const DURATION = process.env.BENCH_DURATION ?? "10s";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SECRET = "bench-secret";
/** BENCH_NO_ROUTE=1: the source routes nowhere, so the run measures ingest alone (no delivery rows, no deliveries). */
const NO_ROUTE = process.env.BENCH_NO_ROUTE === "1";
/** BENCH_RATES: open-loop rates (requests/s) measured before wrk, BENCH_RATE_SEC seconds each; "" skips them. */
const RATES = (process.env.BENCH_RATES ?? "1000,3000").split(",").filter(Boolean).map(Number);
const RATE_SEC = Number(process.env.BENCH_RATE_SEC ?? 8);
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
const SIG = createHmac("sha256", SECRET).update(BODY).digest("hex");

const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-"));
const lua = writeWrkScript(dir, BODY, `sha256=${SIG}`);
const runWrk = (url: string) => runWrkWith({ url, script: lua, connections: CONNECTIONS, duration: DURATION });


async function waitForPort(url: string) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`nothing listening at ${url}`);
}

// 1. Bare Bun.serve: read the body, answer JSON. The ceiling on this machine.
const barePort = 18090;
const bare = Bun.spawn([process.execPath, "-e", `Bun.serve({ port: ${barePort}, hostname: "127.0.0.1", async fetch(req) { await req.arrayBuffer(); return Response.json({ id: "evt_x" }); } })`]);
await waitForPort(`http://127.0.0.1:${barePort}/`);
await warmUp({ url: `http://127.0.0.1:${barePort}/in/bench`, script: lua, connections: CONNECTIONS });
const baseline = await runWrk(`http://127.0.0.1:${barePort}/in/bench`);
bare.kill();

// 2. hookrelay, compiled, durable store.
const bin = await ensureBinary();
const sink = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
const relay = await startBenchRelay(
  bin,
  dir,
  {
    secret: SECRET,
    sinkUrl: `http://127.0.0.1:${sink.port}/`,
    signingSecret: `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`,
    route: !NO_ROUTE,
  },
  (cmd, cwd) => Bun.spawn(cmd, { cwd, stdout: "ignore", stderr: "inherit" }),
);
// Below saturation first: an open-loop load at fixed rates (the relay is fresh), for the latency a provider sees.
const belowSaturation: { rate: number; ok: number; failed: number; skipped: number; latMs: number[] }[] = [];
for (const rate of RATES) {
  const r = await fixedRate({ url: relay.ingestUrl, body: BODY, signature: `sha256=${SIG}` }, rate, RATE_SEC, `rate${rate}`);
  belowSaturation.push({ rate, ...r });
}
const warm = await warmUp({ url: relay.ingestUrl, script: lua, connections: CONNECTIONS });
const cpuBefore = processCpuMs(relay.proc.pid);
const hr = await runWrk(relay.ingestUrl);
const relayCpuMs = processCpuMs(relay.proc.pid) - cpuBefore;
await relay.stop();
sink.stop(true);

const { openStore } = await import("../src/store/index.ts");
const store = await openStore({ url: `file:${join(dir, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
const stored = Number((await store.reads.execute("SELECT count(*) AS n FROM events")).rows[0]!.n);
await store.close();
rmSync(dir, { recursive: true, force: true });

const acked = ackedBy(hr) + ackedBy(warm) + belowSaturation.reduce((n, r) => n + r.ok, 0);
const fmt = (r: WrkResult) => `${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms`;
console.log(`wrk -t2 -c${CONNECTIONS} -d${DURATION}, body ${BODY.length} B, each server warmed up with the same load for ${WARMUP} first`);
console.log(`bare Bun.serve   ${fmt(baseline)}`);
console.log(`hookrelay        ${fmt(hr)}   non-2xx ${hr.non2xx + hr.sockErrors}`);
console.log(`relay CPU        ${((relayCpuMs * 1000) / Math.max(1, hr.requests)).toFixed(0)} µs per request (all threads, ingest + delivery)`);
console.log(`ratio            ${(hr.rps / baseline.rps).toFixed(2)}× bare Bun.serve (target ≥ 0.35×), p99 ${hr.p99.toFixed(2)} ms (target ≤ 10 ms)`);
for (const r of belowSaturation)
  console.log(
    `open loop ${String(r.rate).padStart(5)}/s  p50 ${pct(r.latMs, 0.5).toFixed(2)} ms   p90 ${pct(r.latMs, 0.9).toFixed(2)} ms   p99 ${pct(r.latMs, 0.99).toFixed(2)} ms   max ${pct(r.latMs, 1).toFixed(1)} ms   failed ${r.failed}, skipped ${r.skipped}`,
  );
console.log(`durability       acked ${acked}, stored ${stored} → ${stored >= acked ? "every acked request stored" : `LOST ${acked - stored}`}`);
