/**
 * Peer comparison (by hand: `npx bun bench/compare.ts`, ~2-3 minutes). In one
 * run, everything on 127.0.0.1, the same wrk load (`-t2 -c64 -d10s --latency`,
 * same signed body, an X-Request-Id that differs per request) against:
 *   1. a bare Bun.serve POST handler — the ceiling;
 *   2. hookrelay, the compiled binary: one generic-hmac source, one route to a
 *      local sink, durable store (synchronous=FULL, group commit);
 *   3. adnanh/webhook (Debian package `webhook`): one hook whose trigger rule
 *      checks payload-hmac-sha256 on X-Signature and runs /bin/true;
 *   4. bench/node-receiver.mjs: node:http, constant-time HMAC check, appends
 *      each body to a file with a group fsync before the 200.
 * Each server first gets the same load for BENCH_WARMUP (3s), unmeasured, so
 * that every one is measured warm (JIT compiled), as a long-running server is.
 * Records req/s, p50/p99, non-2xx and the server's peak RSS (VmHWM), prints
 * the table and the ratios. Then the end-to-end in-and-out rate: hookrelay
 * ingesting at fixed offered rates while delivering to a sink in another
 * process, with the queue depth (GET /metrics) at the start and end of each
 * step, so a reader sees at which rate the queue starts to grow.
 * Needs `wrk` and `webhook` (apt-get install -y wrk webhook); Node at /usr/bin/node.
 * Env: BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_STEP_SEC (8),
 * BENCH_ROUNDS (2; 0 runs only the end-to-end steps), BENCH_E2E_RATES (offered
 * rates of the end-to-end steps, e.g. "1000,2000"; default 20–80 % of the
 * relay's wrk figure).
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary } from "../test/support/binary.ts";
import {
  ackedBy, fixedRate, freePort, pct, processCpuMs, runWrk as runWrkWith, SINK_COMMAND, sinkUrlOf, startBenchRelay, waitForHttp,
  WARMUP, warmUp, writeWrkScript, type WrkResult,
} from "./wrk.ts";

const DURATION = process.env.BENCH_DURATION ?? "10s";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 8);
const NODE = process.env.BENCH_NODE ?? "/usr/bin/node";
const SECRET = "bench-secret";
const SIGNING = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
const SIG = `sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`;

const dir = mkdtempSync(join(tmpdir(), "hookrelay-compare-"));
const children: Subprocess[] = [];

/** Spawns a server process and remembers it so that every exit path kills it. */
function spawnChild(cmd: string[], opts: { cwd?: string; stdout?: "pipe" | "ignore" } = {}): Subprocess {
  const p = Bun.spawn(cmd, { cwd: opts.cwd ?? dir, stdout: opts.stdout ?? "ignore", stderr: "inherit" });
  children.push(p);
  return p;
}

function killAll(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });

/** Stops a server: SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stop(p: Subprocess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
  await p.exited;
  clearTimeout(timer);
}

/** Peak resident set of a live process, in MB (VmHWM from /proc). */
function peakRssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const lua = writeWrkScript(dir, BODY, SIG);
const runWrk = (url: string) => runWrkWith({ url, script: lua, connections: CONNECTIONS, duration: DURATION, onSpawn: (p) => children.push(p) });

/** One signed and one badly signed request: the server must accept the first and refuse the second. */
async function checkVerifies(url: string, name: string): Promise<void> {
  const send = async (sig: string, id: string) => {
    const res = await fetch(url, { method: "POST", body: BODY, headers: { "content-type": "application/json", "x-signature": sig, "x-request-id": id } });
    await res.arrayBuffer();
    return res.status;
  };
  const good = await send(SIG, "check-good");
  const bad = await send(`sha256=${"0".repeat(64)}`, "check-bad");
  if (good < 200 || good > 299 || bad < 400) throw new Error(`${name}: signed → ${good}, bad signature → ${bad}; not a fair comparison`);
}

/** `warmAcked`: requests the unmeasured warm-up got a 2xx for (durability checks count them). */
interface Run { wrk: WrkResult; rssMb: number; cpuUsPerReq: number; load: string; warmAcked: number }
interface Row extends Run { name: string; note: string; runs: Run[] }
const rows: Row[] = [];


const loadAvg = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0]!;

/** One wrk run against a started, warmed-up server: throughput, latency, its peak RSS and CPU per request. */
async function measure(name: string, proc: Subprocess, url: string, verifies = true): Promise<Run> {
  if (verifies) await checkVerifies(url, name);
  const warm = await warmUp({ url, script: lua, connections: CONNECTIONS });
  const load = loadAvg();
  const cpu0 = processCpuMs(proc.pid);
  const wrk = await runWrk(url);
  const run = { wrk, rssMb: peakRssMb(proc.pid), cpuUsPerReq: ((processCpuMs(proc.pid) - cpu0) * 1e3) / Math.max(1, wrk.requests), load, warmAcked: ackedBy(warm) };
  console.error(`${name}: ${wrk.rps.toFixed(0)} req/s, p99 ${wrk.p99} ms, peak RSS ${run.rssMb.toFixed(0)} MB, ${run.cpuUsPerReq.toFixed(0)} CPU µs/req (load ${load})`);
  return run;
}

/** Keeps every round; the row shows the round with the most req/s (the least disturbed) and the largest peak RSS seen. */
function record(name: string, run: Run, note: string): Row {
  let row = rows.find((r) => r.name === name);
  if (!row) rows.push((row = { name, note, runs: [], ...run }));
  row.runs.push(run);
  const best = row.runs.reduce((a, b) => (b.wrk.rps > a.wrk.rps ? b : a));
  Object.assign(row, best, { rssMb: Math.max(...row.runs.map((r) => r.rssMb)), note });
  return row;
}

/** The sink target, in its own process as a real internal service would be. */
async function startSink(): Promise<{ proc: Subprocess; url: string }> {
  const proc = spawnChild(SINK_COMMAND, { stdout: "pipe" });
  return { proc, url: await sinkUrlOf(proc) };
}

/** One hmac source routed to the sink (or, with route false, to nothing): the binary started in `cwd`. */
function startRelay(bin: string, cwd: string, sinkUrl: string, route = true) {
  return startBenchRelay(bin, cwd, { secret: SECRET, sinkUrl, signingSecret: SIGNING, route, concurrency: 64 }, (cmd, at) => spawnChild(cmd, { cwd: at }));
}

interface RelayStats { depth: number; delivered: number; received: number }

/** Queue depth and counters for target "sink" / source "bench" from GET /metrics (open on loopback without a token). */
async function relayStats(adminUrl: string): Promise<RelayStats> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const value = (name: string, ...labels: string[]) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
    return line ? Number(line.trim().split(/\s+/).at(-1)) : Number.NaN;
  };
  return {
    depth: value("hookrelay_queue_depth", 'target="sink"'),
    delivered: value("hookrelay_deliveries_total", 'target="sink"', 'outcome="delivered"'),
    received: value("hookrelay_received_total", 'source="bench"'),
  };
}

async function countStored(cwd: string): Promise<number> {
  const { openStore } = await import("../src/store/index.ts");
  const store = await openStore({ url: `file:${join(cwd, "relay.db")}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
  try {
    return Number((await store.reads.execute("SELECT count(*) AS n FROM events")).rows[0]!.n);
  } finally {
    await store.close();
  }
}

interface StepResult { offered: number; ingest: number; ingestP99: number; failed: number; skipped: number; delivery: number; depthStart: number; depthEnd: number }

/** Bare Bun.serve: read the body, answer JSON. The ceiling; it verifies nothing, so no checkVerifies. */
async function roundBare(): Promise<void> {
  const port = freePort();
  const proc = spawnChild([process.execPath, "-e", `Bun.serve({ port: ${port}, hostname: "127.0.0.1", async fetch(req) { await req.arrayBuffer(); return Response.json({ id: "evt_x" }); } })`]);
  const url = `http://127.0.0.1:${port}/in/bench`;
  await waitForHttp(url, proc);
  record("bare Bun.serve", await measure("bare Bun.serve", proc, url, false), "reads the body, answers JSON; no verification, nothing stored");
  await stop(proc);
}

/**
 * hookrelay, compiled, fresh durable store, delivering to the sink while it
 * ingests — or, with `route` false, only storing (the source routes nowhere):
 * its ingest capacity without delivery competing for the CPU.
 */
async function roundRelay(bin: string, route = true): Promise<void> {
  const name = route ? "hookrelay" : "hookrelay, store only";
  const cwd = mkdtempSync(join(dir, "relay-"));
  const sink = await startSink();
  const relay = await startRelay(bin, cwd, sink.url, route);
  const run = await measure(name, relay.proc, relay.ingestUrl);
  const depth = (await relayStats(relay.adminUrl)).depth;
  await stop(relay.proc);
  await stop(sink.proc);
  const stored = await countStored(cwd);
  const acked = ackedBy(run.wrk) + run.warmAcked;
  // +2: the signed and badly signed check requests (the bad one is not stored, the good one is).
  durability.push(`${name}: acked ${acked} (+1 check), stored ${stored} → ${stored >= acked + 1 ? "every acked request stored" : `LOST ${acked + 1 - stored}`}`);
  record(name, run, route ? `HMAC + dedupe + durable store + delivery to a sink; queue after the run: ${depth}` : "HMAC + dedupe + durable store; routes nowhere, so nothing is delivered");
}

/** adnanh/webhook: payload-hmac-sha256 trigger rule, runs /bin/true per accepted request. */
async function roundWebhook(): Promise<void> {
  const port = freePort();
  writeFileSync(
    join(dir, "hooks.json"),
    JSON.stringify([
      {
        id: "bench",
        "execute-command": "/bin/true",
        "response-message": "ok",
        "trigger-rule-mismatch-http-response-code": 401,
        "trigger-rule": { match: { type: "payload-hmac-sha256", secret: SECRET, parameter: { source: "header", name: "X-Signature" } } },
      },
    ]),
  );
  const proc = spawnChild(["webhook", "-hooks", join(dir, "hooks.json"), "-ip", "127.0.0.1", "-port", String(port), "-http-methods", "POST"]);
  await waitForHttp(`http://127.0.0.1:${port}/`, proc);
  record("adnanh/webhook", await measure("adnanh/webhook", proc, `http://127.0.0.1:${port}/hooks/bench`), "HMAC rule, runs /bin/true per request (not awaited); stores nothing");
  await stop(proc);
}

/** Hand-written Node receiver: verify, append, group fsync, then 200. */
async function roundNode(): Promise<void> {
  const port = freePort();
  const file = join(dir, `node-received-${Date.now()}.log`);
  const proc = spawnChild([NODE, join(import.meta.dir, "node-receiver.mjs"), String(port), SECRET, file]);
  await waitForHttp(`http://127.0.0.1:${port}/`, proc);
  const run = await measure("node:http receiver", proc, `http://127.0.0.1:${port}/in/bench`);
  await stop(proc);
  const lines = readFileSync(file, "utf8").split("\n").length - 1;
  const acked = ackedBy(run.wrk) + run.warmAcked;
  durability.push(`node receiver: acked ${acked} (+1 check), lines in file ${lines}`);
  record("node:http receiver", run, "HMAC + append + group fsync; no dedupe, no delivery");
}

const durability: string[] = [];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

try {
  const bin = await ensureBinary();
  console.error(`load average before: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
  // Rounds interleave the servers so that a burst of other work on the machine hits each of them alike.
  for (let round = 0; round < ROUNDS; round++) {
    await roundBare();
    await roundRelay(bin);
    await roundRelay(bin, false);
    await roundWebhook();
    await roundNode();
  }

  // 5. End-to-end: ingest at fixed rates while delivering; does the queue grow?
  const relayRow = rows.find((r) => r.name === "hookrelay");
  const e2eRates = (process.env.BENCH_E2E_RATES ?? "").split(",").filter(Boolean).map(Number);
  if (!relayRow && e2eRates.length === 0) throw new Error("BENCH_ROUNDS=0 needs BENCH_E2E_RATES");
  const steps: StepResult[] = [];
  let drain = { seconds: Number.NaN, rate: Number.NaN, left: Number.NaN };
  {
    const cwd = mkdtempSync(join(dir, "e2e-"));
    const sink = await startSink();
    const relay = await startRelay(bin, cwd, sink.url);
    await fixedRate({ url: relay.ingestUrl, body: BODY, signature: SIG }, 200, 1, "warm"); // connections and JIT
    while ((await relayStats(relay.adminUrl)).depth > 0) await Bun.sleep(100);
    const max = relayRow?.wrk.rps ?? 0;
    const rates = e2eRates.length > 0 ? e2eRates : [0.2, 0.35, 0.5, 0.65, 0.8].map((f) => Math.round((max * f) / 50) * 50);
    for (const offered of rates) {
      const before = await relayStats(relay.adminUrl);
      const t0 = performance.now();
      const r = await fixedRate({ url: relay.ingestUrl, body: BODY, signature: SIG }, offered, STEP_SEC, `e2e${offered}`);
      const sec = (performance.now() - t0) / 1000;
      const after = await relayStats(relay.adminUrl);
      const step = {
        offered, ingest: r.ok / sec, ingestP99: pct(r.latMs, 0.99), failed: r.failed, skipped: r.skipped,
        delivery: (after.delivered - before.delivered) / sec, depthStart: before.depth, depthEnd: after.depth,
      };
      steps.push(step);
      console.error(`e2e ${offered}/s: ingest ${step.ingest.toFixed(0)}/s, delivery ${step.delivery.toFixed(0)}/s, queue ${before.depth} → ${after.depth}`);
      // Stop once the queue clearly grows: higher rates only grow it faster.
      if (after.depth - before.depth > Math.max(100, 0.05 * offered * STEP_SEC)) break;
    }
    // Delivery alone: how fast the leftover queue drains (at most 20 s).
    const start = await relayStats(relay.adminUrl);
    const t0 = performance.now();
    let now = start;
    while (now.depth > 0 && performance.now() - t0 < 20_000) {
      await Bun.sleep(250);
      now = await relayStats(relay.adminUrl);
    }
    const sec = (performance.now() - t0) / 1000;
    // Only meaningful with a real backlog; a few leftover rows drain in one round.
    if (start.depth >= 1000) drain = { seconds: sec, rate: (now.delivered - start.delivered) / sec, left: now.depth };
    await stop(relay.proc);
    await stop(sink.proc);
  }

  // Report.
  const n = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "—");
  if (rows.length > 0) {
    const bare = rows[0]!;
    const get = (name: string) => rows.find((r) => r.name === name)!;
    const [hr, so, wh, nd] = [get("hookrelay"), get("hookrelay, store only"), get("adnanh/webhook"), get("node:http receiver")];
    console.log(`\nwrk -t2 -c${CONNECTIONS} -d${DURATION} --latency, body ${Buffer.byteLength(BODY)} B, ${navigator.hardwareConcurrency} CPUs, wrk on the same machine, each server warmed up for ${WARMUP} first, best of ${ROUNDS} interleaved rounds`);
    console.log("| server | req/s | × bare | p50 ms | p99 ms | non-2xx + socket errors | peak RSS MB | CPU µs/req | req/s per round (load avg) | notes |");
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for (const r of rows)
      console.log(
        `| ${r.name} | ${n(r.wrk.rps)} | ${n(r.wrk.rps / bare.wrk.rps, 2)} | ${n(r.wrk.p50, 2)} | ${n(r.wrk.p99, 2)} | ${r.wrk.non2xx + r.wrk.sockErrors} | ${n(r.rssMb)} | ${n(r.cpuUsPerReq)} | ${r.runs.map((x) => `${n(x.wrk.rps)} (${x.load})`).join(", ")} | ${r.note} |`,
      );
    console.log("");
    for (const line of durability) console.log(line);
    const mark = (ok: boolean) => (ok ? "met" : "NOT met");
    console.log("\nratios");
    console.log(`hookrelay / webhook throughput  ${n(hr.wrk.rps / wh.wrk.rps, 2)}×  (target ≥ 2.5×: ${mark(hr.wrk.rps >= 2.5 * wh.wrk.rps)})`);
    console.log(`hookrelay / webhook p99         ${n(hr.wrk.p99 / wh.wrk.p99, 2)}×  (target < 1: ${mark(hr.wrk.p99 < wh.wrk.p99)})`);
    console.log(`hookrelay / webhook peak RSS    ${n(hr.rssMb / wh.rssMb, 2)}×  (target < 1: ${mark(hr.rssMb < wh.rssMb)})`);
    console.log(`hookrelay / bare Bun.serve      ${n(hr.wrk.rps / bare.wrk.rps, 2)}×  (target ≥ 0.35×: ${mark(hr.wrk.rps >= 0.35 * bare.wrk.rps)})`);
    console.log(`hookrelay / node receiver       ${n(hr.wrk.rps / nd.wrk.rps, 2)}×  throughput, p99 ${n(hr.wrk.p99 / nd.wrk.p99, 2)}×`);
    console.log(`store only / webhook throughput ${n(so.wrk.rps / wh.wrk.rps, 2)}×, p99 ${n(so.wrk.p99 / wh.wrk.p99, 2)}×, peak RSS ${n(so.rssMb / wh.rssMb, 2)}×; / bare Bun.serve ${n(so.wrk.rps / bare.wrk.rps, 2)}×`);
  }
  const bareRps = rows[0]?.wrk.rps ?? Number.NaN;
  console.log(`\nend to end (hookrelay ingesting at a fixed rate while delivering to a sink process, ${STEP_SEC} s per step, target concurrency 64)`);
  console.log("| offered /s | ingested /s | ingest p99 ms | failed | skipped | delivered /s | queue start → end |");
  console.log("|---:|---:|---:|---:|---:|---:|---|");
  for (const s of steps)
    console.log(`| ${s.offered} | ${n(s.ingest)} | ${n(s.ingestP99, 1)} | ${s.failed} | ${s.skipped} | ${n(s.delivery)} | ${s.depthStart} → ${s.depthEnd} |`);
  const steady = steps.filter((s) => s.depthEnd - s.depthStart <= Math.max(100, 0.05 * s.offered * STEP_SEC) && s.skipped === 0);
  const best = steady.at(-1);
  console.log(best ? `sustained in-and-out: ${n(best.ingest)} events/s in and ${n(best.delivery)}/s out with the queue flat (${n(best.ingest / bareRps, 2)}× bare)` : "no step kept the queue flat");
  if (Number.isFinite(drain.rate)) console.log(`delivery alone (draining the leftover queue): ${n(drain.rate)}/s, ${drain.left} left after ${n(drain.seconds, 1)} s`);
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
