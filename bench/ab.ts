/**
 * A/B of hookrelay binaries (by hand):
 *
 *   bun bench/ab.ts <binary A> <binary B> [<binary C> …]
 *
 * e.g. the current build against an older commit's, built in a git worktree,
 * or one binary under different environment variables (a two-line shell
 * script that sets them and execs it). Runs alternate A, B, A, B … so that
 * whatever else the machine does hits all alike. Each run: a fresh store in
 * a temp dir, the benches' relay config (one hmac source; routed to a sink
 * process unless BENCH_NO_ROUTE=1), the same load unmeasured for
 * BENCH_WARMUP (3s), then wrk for BENCH_DURATION (6s) at BENCH_CONNECTIONS
 * (64). Prints req/s, p99 and the CPU per request of each busy thread (from
 * /proc), then each binary's median. BENCH_PAIRS (3) sets how many rounds.
 * Needs `wrk`.
 *
 * BENCH_RATE=N measures latency below saturation instead: an open loop at N
 * requests/s (2 s unmeasured, then BENCH_DURATION), printing p50/p90/p99/max.
 *
 * BENCH_FILTERED=B (labels, comma-separated) runs those binaries with ten
 * routes with payload filters instead of the one plain route (wrk.ts
 * FILTERED_ROUTES; each event still goes to the sink once): the same binary
 * twice, `BENCH_FILTERED=B bun bench/ab.ts dist/hookrelay dist/hookrelay`,
 * gives what filters cost in the same run.
 *
 * BENCH_NO_SEARCH=B (labels) runs those binaries with `[store] search = false`:
 * `BENCH_NO_SEARCH=B bun bench/ab.ts dist/hookrelay dist/hookrelay` gives
 * ingest with the full-text indexer (A) against without it (B) in the same run.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { fixedRate, pct, runWrk, SINK_COMMAND, sinkUrlOf, startBenchRelay, threadCpuMs, warmUp, writeWrkScript } from "./wrk.ts";

const bins = process.argv.slice(2).map((p, i) => ({ label: String.fromCharCode(65 + i), bin: resolve(p) }));
if (bins.length < 2) {
  console.error("usage: bun bench/ab.ts <binary A> <binary B> [<binary C> …]");
  process.exit(2);
}
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : null;
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? "6s";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ROUTE = process.env.BENCH_NO_ROUTE !== "1";
const FILTERED = new Set((process.env.BENCH_FILTERED ?? "").split(",").filter(Boolean));
const NO_SEARCH = new Set((process.env.BENCH_NO_SEARCH ?? "").split(",").filter(Boolean));
const SECRET = "bench-secret";
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });

const dir = mkdtempSync(join(tmpdir(), "hookrelay-ab-"));
const SIGNATURE = `sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`;
const lua = writeWrkScript(dir, BODY, SIGNATURE);
const children: Subprocess[] = [];

interface Run {
  label: string;
  rps: number;
  p50: number;
  /** Open loop only (wrk reports p50 and p99). */
  p90: number | null;
  p99: number;
  max: number | null;
  /** µs of CPU per request by thread ("name#n" when several threads share a name), busiest first. */
  threads: [string, number][];
  total: number;
}

const seconds = (d: string) => Number.parseFloat(d) * (d.endsWith("m") ? 60 : 1);

/** The load of one run, wrk to saturation or the open loop at BENCH_RATE; `measuring` is called after the warm-up. */
async function load(url: string, measuring: () => void): Promise<Omit<Run, "label" | "threads" | "total"> & { requests: number }> {
  if (RATE === null) {
    await warmUp({ url, script: lua, connections: CONNECTIONS });
    measuring();
    const wrk = await runWrk({ url, script: lua, connections: CONNECTIONS, duration: DURATION });
    return { rps: wrk.rps, p50: wrk.p50, p90: null, p99: wrk.p99, max: null, requests: wrk.requests };
  }
  await fixedRate({ url, body: BODY, signature: SIGNATURE }, RATE, 2, "warm-up");
  measuring();
  const sec = seconds(DURATION);
  const r = await fixedRate({ url, body: BODY, signature: SIGNATURE }, RATE, sec, "measured");
  const lat = r.latMs.sort((a, b) => a - b);
  return { rps: r.ok / sec, p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), max: pct(lat, 1), requests: r.ok + r.failed };
}

async function measure(label: string, bin: string, sinkUrl: string): Promise<Run> {
  const cwd = mkdtempSync(join(dir, "run-"));
  const signingSecret = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
  const config = { secret: SECRET, sinkUrl, signingSecret, route: ROUTE, filteredRoutes: FILTERED.has(label), noSearch: NO_SEARCH.has(label) };
  const relay = await startBenchRelay(bin, cwd, config, (cmd, at) => {
    const p = Bun.spawn(cmd, { cwd: at, stdout: "ignore", stderr: "ignore" });
    children.push(p);
    return p;
  });
  const proc = relay.proc;
  try {
    const url = relay.ingestUrl;
    // Per-thread CPU of the measured part only.
    let before = new Map<number, { name: string; ms: number }>();
    const measured = await load(url, () => (before = threadCpuMs(proc.pid)));
    const after = threadCpuMs(proc.pid);
    const seen = new Map<string, number>();
    const threads: [string, number][] = [];
    for (const [tid, t] of after) {
      const n = (seen.get(t.name) ?? 0) + 1;
      seen.set(t.name, n);
      const us = ((t.ms - (before.get(tid)?.ms ?? 0)) * 1000) / Math.max(1, measured.requests);
      if (us >= 1) threads.push([n > 1 ? `${t.name}#${n}` : t.name, us]);
    }
    threads.sort((a, b) => b[1] - a[1]);
    const { requests: _, ...figures } = measured;
    return { label, ...figures, threads, total: threads.reduce((a, [, us]) => a + us, 0) };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(cwd, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const ms = (x: number | null) => (x === null ? "" : x.toFixed(1).padStart(5));
const latency = (r: Pick<Run, "p50" | "p90" | "p99" | "max">) =>
  RATE === null ? `p99 ${ms(r.p99)} ms` : `p50 ${ms(r.p50)}  p90 ${ms(r.p90)}  p99 ${ms(r.p99)}  max ${ms(r.max)} ms`;

try {
  const sink = Bun.spawn(SINK_COMMAND, { stdout: "pipe", stderr: "inherit" });
  children.push(sink);
  const sinkUrl = await sinkUrlOf(sink);
  for (const { label, bin } of bins) console.log(`${label} = ${bin}${FILTERED.has(label) ? " (ten filtered routes)" : ""}${NO_SEARCH.has(label) ? " (search = false)" : ""}`);
  const how = RATE === null ? `wrk -c${CONNECTIONS} -d${DURATION} after a warm-up` : `open loop at ${RATE}/s for ${DURATION} after 2 s`;
  console.log(`${ROUTE ? "one route to a sink process" : "no route (ingest alone)"}, ${how}, ${PAIRS} rounds\n`);
  const runs: Run[] = [];
  for (let i = 0; i < PAIRS; i++) {
    for (const { label, bin } of bins) {
      const r = await measure(label, bin, sinkUrl);
      runs.push(r);
      const top = r.threads.slice(0, 5).map(([name, us]) => `${name} ${us.toFixed(0)}`).join(", ");
      console.log(`${label}  ${r.rps.toFixed(0).padStart(6)} req/s  ${latency(r)}  CPU ${r.total.toFixed(0)} µs/req (${top})`);
    }
  }
  console.log("");
  for (const { label } of bins) {
    const mine = runs.filter((r) => r.label === label);
    const med = (f: (r: Run) => number | null) => {
      const xs = mine.map(f).filter((x): x is number => x !== null);
      return xs.length ? median(xs) : null;
    };
    const figures = { p50: med((r) => r.p50)!, p90: med((r) => r.p90), p99: med((r) => r.p99)!, max: med((r) => r.max) };
    console.log(`${label} median  ${median(mine.map((r) => r.rps)).toFixed(0)} req/s  ${latency(figures)}  CPU ${median(mine.map((r) => r.total)).toFixed(0)} µs/req`);
  }
} finally {
  for (const p of children) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
