/**
 * A/B of two hookrelay binaries (by hand):
 *
 *   bun bench/ab.ts <binary A> <binary B>
 *
 * e.g. the current build against an older commit's, built in a git worktree.
 * Runs alternate A, B, A, B … so that whatever else the machine does hits
 * both alike. Each run: a fresh store in a temp dir, the benches' relay
 * config (one hmac source; routed to a sink process unless BENCH_NO_ROUTE=1),
 * the same load unmeasured for BENCH_WARMUP (3s), then wrk for
 * BENCH_DURATION (6s) at BENCH_CONNECTIONS (64). Prints req/s, p99 and the
 * CPU per request of each busy thread (from /proc), then each binary's
 * median. BENCH_PAIRS (3) sets how many pairs. Needs `wrk`.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { benchRelayToml, freePort, runWrk, SINK_COMMAND, sinkUrlOf, threadCpuMs, waitForHttp, warmUp, writeWrkScript } from "./wrk.ts";

const [binA, binB] = process.argv.slice(2).map((p) => resolve(p));
if (!binA || !binB) {
  console.error("usage: bun bench/ab.ts <binary A> <binary B>");
  process.exit(2);
}
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const DURATION = process.env.BENCH_DURATION ?? "6s";
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ROUTE = process.env.BENCH_NO_ROUTE !== "1";
const SECRET = "bench-secret";
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });

const dir = mkdtempSync(join(tmpdir(), "hookrelay-ab-"));
const lua = writeWrkScript(dir, BODY, `sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`);
const children: Subprocess[] = [];

interface Run {
  label: string;
  rps: number;
  p99: number;
  /** µs of CPU per request by thread ("name#n" when several threads share a name), busiest first. */
  threads: [string, number][];
  total: number;
}

async function measure(label: string, bin: string, sinkUrl: string): Promise<Run> {
  const cwd = mkdtempSync(join(dir, "run-"));
  const [pub, admin] = [freePort(), freePort()];
  const signingSecret = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
  writeFileSync(join(cwd, "hookrelay.toml"), benchRelayToml({ publicPort: pub, adminPort: admin, secret: SECRET, sinkUrl, signingSecret, route: ROUTE }));
  const proc = Bun.spawn([bin, "serve", "--config", "hookrelay.toml"], { cwd, stdout: "ignore", stderr: "ignore" });
  children.push(proc);
  try {
    await waitForHttp(`http://127.0.0.1:${admin}/healthz`, proc);
    const url = `http://127.0.0.1:${pub}/in/bench`;
    await warmUp({ url, script: lua, connections: CONNECTIONS });
    const before = threadCpuMs(proc.pid);
    const wrk = await runWrk({ url, script: lua, connections: CONNECTIONS, duration: DURATION });
    const after = threadCpuMs(proc.pid);
    const seen = new Map<string, number>();
    const threads: [string, number][] = [];
    for (const [tid, t] of after) {
      const n = (seen.get(t.name) ?? 0) + 1;
      seen.set(t.name, n);
      const us = ((t.ms - (before.get(tid)?.ms ?? 0)) * 1000) / Math.max(1, wrk.requests);
      if (us >= 1) threads.push([n > 1 ? `${t.name}#${n}` : t.name, us]);
    }
    threads.sort((a, b) => b[1] - a[1]);
    return { label, rps: wrk.rps, p99: wrk.p99, threads, total: threads.reduce((a, [, us]) => a + us, 0) };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(cwd, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

try {
  const sink = Bun.spawn(SINK_COMMAND, { stdout: "pipe", stderr: "inherit" });
  children.push(sink);
  const sinkUrl = await sinkUrlOf(sink);
  console.log(`A = ${binA}\nB = ${binB}\n${ROUTE ? "one route to a sink process" : "no route (ingest alone)"}, wrk -c${CONNECTIONS} -d${DURATION} after a warm-up, ${PAIRS} pairs\n`);
  const runs: Run[] = [];
  for (let i = 0; i < PAIRS; i++) {
    for (const [label, bin] of [["A", binA], ["B", binB]] as const) {
      const r = await measure(label, bin, sinkUrl);
      runs.push(r);
      const top = r.threads.slice(0, 5).map(([name, us]) => `${name} ${us.toFixed(0)}`).join(", ");
      console.log(`${label}  ${r.rps.toFixed(0).padStart(6)} req/s  p99 ${r.p99.toFixed(1).padStart(5)} ms  CPU ${r.total.toFixed(0)} µs/req (${top})`);
    }
  }
  console.log("");
  for (const label of ["A", "B"]) {
    const mine = runs.filter((r) => r.label === label);
    console.log(`${label} median  ${median(mine.map((r) => r.rps)).toFixed(0)} req/s  p99 ${median(mine.map((r) => r.p99)).toFixed(1)} ms  CPU ${median(mine.map((r) => r.total)).toFixed(0)} µs/req`);
  }
} finally {
  for (const p of children) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
