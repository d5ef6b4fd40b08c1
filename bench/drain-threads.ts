/**
 * Where a cold drain's CPU goes, thread by thread (by hand: `bun bench/drain-threads.ts`;
 * Linux, reads /proc). A relay binary is started on a store holding BENCH_EVENTS
 * (30,000) pending deliveries to a counting sink, as in bench/deliver.ts, and
 * from the BENCH_FROM-th (1,000th) delivery to the last it prints, per delivery:
 * the relay's CPU, minor page faults and context switches by thread name
 * (`exe`/`hookrelay` the event loop, `Worker` the writer and checkpoint threads,
 * `JITWorker`, `JSCWarmUp`, `HeapHelper`, `mi-scavenger`), and the sink's CPU and
 * context switches, whose wake-ups say how the requests reach it.
 *
 *   BENCH_BIN=a BENCH_VS=b BENCH_PAIRS=5   alternates two binaries, a then b, five times
 *   BENCH_CONCURRENCY=128                   the target's concurrency (64, as bench/deliver.ts)
 *   PERF=out.data [PERF_EVENT=page-faults] `perf record -g` of the relay over the timed part
 *   STRACE=out.txt                          `strace -c` of every relay thread over the timed part
 *
 * Figures from one run swing by ±15 % on a small shared VM: compare binaries in
 * alternated pairs, never against a figure from another hour.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary } from "../test/support/binary.ts";
import { COUNTING_SINK_COMMAND, processCpuMs, processSwitches, seedPendingDeliveries, sinkUrlOf, startBenchRelay, threadStats, type ThreadStats } from "./wrk.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 30_000);
const FROM = Number(process.env.BENCH_FROM ?? 1_000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 1);
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
const SIGNING = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;

const binaries = [process.env.BENCH_BIN ? resolve(process.env.BENCH_BIN) : await ensureBinary()];
if (process.env.BENCH_VS) binaries.push(resolve(process.env.BENCH_VS));

const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-threads-"));
const children: Subprocess[] = [];
process.on("exit", () => children.forEach((c) => c.kill()));
const sink = Bun.spawn(COUNTING_SINK_COMMAND, { stdout: "pipe", stderr: "inherit" });
children.push(sink);
const sinkUrl = await sinkUrlOf(sink);
const sinkCount = async () => Number(await (await fetch(sinkUrl)).text());

type ThreadCounts = Omit<ThreadStats, "name">;

/** CPU, minor faults and context switches of a process's threads so far, summed by thread name. */
function byThreadName(pid: number): Map<string, ThreadCounts> {
  const out = new Map<string, ThreadCounts>();
  for (const t of threadStats(pid).values()) {
    const c = out.get(t.name) ?? { cpuMs: 0, faults: 0, switches: 0 };
    c.cpuMs += t.cpuMs;
    c.faults += t.faults;
    c.switches += t.switches;
    out.set(t.name, c);
  }
  return out;
}

/** Starts a tool attached to the relay over the timed part, if asked for; the caller stops it with SIGINT. */
function attachTool(pid: number): Subprocess | null {
  if (process.env.PERF) {
    const event = process.env.PERF_EVENT ? ["-e", process.env.PERF_EVENT] : ["-F", "2999"];
    return Bun.spawn(["perf", "record", ...event, "-g", "-o", process.env.PERF, "-p", String(pid)], { stdout: "ignore", stderr: "ignore" });
  }
  if (process.env.STRACE) {
    const threads = readdirSync(`/proc/${pid}/task`).flatMap((tid) => ["-p", tid]);
    return Bun.spawn(["strace", "-c", "-o", process.env.STRACE, ...threads], { stdout: "ignore", stderr: "ignore" });
  }
  return null;
}

async function coldDrain(bin: string) {
  const cwd = mkdtempSync(join(dir, "drain-"));
  await seedPendingDeliveries(`file:${join(cwd, "relay.db")}`, EVENTS, BODY);
  const base = await sinkCount();
  const { proc: relay } = await startBenchRelay(bin, cwd, { secret: "bench-secret", sinkUrl, signingSecret: SIGNING, route: true, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 64) }, (cmd, dir) => {
    const p = Bun.spawn(cmd, { cwd: dir, stdout: "ignore", stderr: "inherit" });
    children.push(p);
    return p;
  });
  let t0 = 0;
  let relay0 = byThreadName(relay.pid);
  let sink0 = { cpuMs: processCpuMs(sink.pid), switches: processSwitches(sink.pid) };
  let tool: Subprocess | null = null;
  const deadline = performance.now() + 120_000;
  for (;;) {
    const n = (await sinkCount()) - base;
    if (t0 === 0 && n >= FROM) {
      t0 = performance.now();
      relay0 = byThreadName(relay.pid);
      sink0 = { cpuMs: processCpuMs(sink.pid), switches: processSwitches(sink.pid) };
      tool = attachTool(relay.pid);
    }
    if (n >= EVENTS) break;
    if (performance.now() > deadline) throw new Error(`the drain did not finish in 120 s (${n} of ${EVENTS})`);
    await Bun.sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  const relay1 = byThreadName(relay.pid);
  const sink1 = { cpuMs: processCpuMs(sink.pid), switches: processSwitches(sink.pid) };
  tool?.kill("SIGINT");
  await tool?.exited;
  relay.kill("SIGTERM");
  await relay.exited;
  rmSync(cwd, { recursive: true, force: true });
  const timed = EVENTS - FROM;
  const threads = [...relay1].map(([name, c]) => {
    const b = relay0.get(name) ?? { cpuMs: 0, faults: 0, switches: 0 };
    return { name, cpuUs: ((c.cpuMs - b.cpuMs) * 1000) / timed, faults: (c.faults - b.faults) / timed, switches: (c.switches - b.switches) / timed };
  });
  return {
    rate: timed / seconds,
    threads: threads.filter((t) => t.cpuUs > 0 || t.faults > 0).sort((a, b) => b.cpuUs - a.cpuUs),
    sink: { cpuUs: ((sink1.cpuMs - sink0.cpuMs) * 1000) / timed, switches: (sink1.switches - sink0.switches) / timed },
  };
}

for (let pair = 0; pair < PAIRS; pair++) {
  for (const bin of binaries) {
    const r = await coldDrain(bin);
    const total = r.threads.reduce((n, t) => n + t.cpuUs, 0);
    console.log(`${bin}: ${r.rate.toFixed(0)} deliveries/s (the ${FROM}th to the ${EVENTS}th, cold)`);
    console.log(`  relay ${total.toFixed(1)} µs CPU per delivery, sink ${r.sink.cpuUs.toFixed(1)} µs and ${r.sink.switches.toFixed(3)} context switches per request`);
    for (const t of r.threads)
      console.log(`  ${t.name.padEnd(16)} ${t.cpuUs.toFixed(1).padStart(6)} µs  ${t.faults.toFixed(2).padStart(5)} faults  ${t.switches.toFixed(3).padStart(6)} switches`);
  }
}
sink.kill();
rmSync(dir, { recursive: true, force: true });
