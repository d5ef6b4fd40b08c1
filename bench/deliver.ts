/**
 * Delivery benchmark (by hand: `bun bench/deliver.ts`, ~5 minutes; needs `wrk`).
 * Everything on 127.0.0.1, the compiled binary (BENCH_BIN to measure another
 * build, e.g. an older commit's), targets and sinks in their own processes.
 * In one run:
 *
 *  1. bare: a 64-way `fetch` loop against a sink process — the ceiling of
 *     what one process can send to that sink on this machine — with what
 *     each request cost the sink (CPU, context switches), as for the drains;
 *  2. drain: the relay started on a store holding BENCH_EVENTS (20,000)
 *     pending deliveries to the same sink (target concurrency 64; their
 *     events already searchable, as a relay leaves a backlog it stored), timed
 *     from the 1,000th to the last delivery (start-up left out, the JIT
 *     still compiling), with the CPU per delivery of its event loop and its
 *     writer thread (/proc). BENCH_DRAINS (3) such cold drains, each
 *     between two bare loops whose mean is its baseline, the ratio taken
 *     within each pair: a two-second drain swings by ±10 % on a small shared
 *     VM, and the median pair is the figure (every pair printed). Then warm:
 *     twice as many stored, the second half timed, as the other figures are
 *     taken from warm servers, between bare loops too. And the drain's floor
 *     (bench/drain-floor.ts: a durable drain shaped as the relay, an event
 *     loop sending and a writer thread leasing and recording, with nothing of
 *     the product), BENCH_DRAINS times between bare loops: what share of the
 *     bare loop a drain can reach on this machine, and the relay's share of it;
 *     then that floor doing the product's work (bench/drain-floor-product.ts:
 *     the relay's store rounds and signed requests, none of its engine), as
 *     many times: the way from the floor to the relay split into what the
 *     product's work costs and what the engine adds (FLOOR_SENDER=relay: it
 *     sends with the relay's HTTP client instead of `fetch`);
 *  3. ingest alone: wrk (64 connections, after a warm-up) against the relay
 *     with the source routed nowhere;
 *  4. in and out: the relay ingesting at fixed rates (a share of the ingest-
 *     alone figure) while it delivers every event to the sink, with the
 *     queue depth at the start and end of each step — flat means delivery
 *     keeps up: the queue grew by no more than what is in the air (in flight
 *     and leased ahead, IN_THE_AIR); warmed first like ingest alone (WARMUP of
 *     the first step).
 *     Ingest alone is measured again after the steps, and the flat step's
 *     ratio is taken to the mean of the two;
 *  5. end to end: 100 events/s for 10 s, provider send → target receive
 *     (the receiving end in this process, so both ends share one clock),
 *     fresh (from start) and warm (after E2E_WARMUP more events, as a relay
 *     that has been running: the figure held to the aim); first through
 *     the machine's floor (a process that writes and syncs a fresh event's
 *     WAL frames, answers and forwards), then the relay.
 *
 * Prints each figure and its ratio to its baseline from the same run.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary } from "../test/support/binary.ts";
import { COUNTING_SINK_COMMAND, fixedRate, pct, processCpuMs, processSwitches, runWrk, seedPendingDeliveries, sinkUrlOf, startBenchRelay, threadCpuMs, WARMUP, warmUp, writeWrkScript } from "./wrk.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const DRAINS = Math.max(1, Number(process.env.BENCH_DRAINS ?? 3));
const CONCURRENCY = 64;
/**
 * What a target's queue depth (pending, delivering, paused) holds with no
 * backlog at all: its attempts in flight (the concurrency) and the line the
 * engine leases ahead of them, 2 × concurrency and at most 128
 * (delivery/scheduler.ts), both `delivering`. A step is flat when its queue
 * grew by no more than that.
 */
const IN_THE_AIR = CONCURRENCY + Math.min(2 * CONCURRENCY, 128);
const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 8);
const SHARES = (process.env.BENCH_SHARES ?? "0.35,0.4,0.45,0.5,0.55").split(",").map(Number);
const SECRET = "bench-secret";
const SIGNING = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
const SIGNATURE = `sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`;

const bin = process.env.BENCH_BIN ? resolve(process.env.BENCH_BIN) : await ensureBinary();
const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-deliver-"));
const children: Subprocess[] = [];
const spawnChild = (cmd: string[], cwd?: string): Subprocess => {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "inherit" });
  children.push(p);
  return p;
};
process.on("exit", () => children.forEach((c) => c.kill()));

const sink = spawnChild(COUNTING_SINK_COMMAND);
const sinkUrl = await sinkUrlOf(sink);
const sinkCount = async () => Number(await (await fetch(sinkUrl)).text());

/** A relay binary in its own directory on free ports; its store is ./relay.db there. */
async function startRelay(opts: { route: boolean; sinkUrl: string; cwd?: string }) {
  const cwd = opts.cwd ?? mkdtempSync(join(dir, "relay-"));
  const relay = await startBenchRelay(bin, cwd, { secret: SECRET, sinkUrl: opts.sinkUrl, signingSecret: SIGNING, route: opts.route, concurrency: CONCURRENCY }, spawnChild);
  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${relay.adminUrl}/metrics`)).text();
    return Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  };
  return {
    ...relay,
    delivered: () => metric("hookrelay_deliveries_total", 'target="sink",outcome="delivered"'),
    depth: () => metric("hookrelay_queue_depth", 'target="sink"'),
  };
}

/** CPU µs per unit of the relay's event loop (the process's main thread) and of its busiest other thread (the writer). */
function cpuPer(pid: number, before: ReturnType<typeof threadCpuMs>, units: number) {
  const after = threadCpuMs(pid);
  const spent = [...after].map(([tid, t]) => ({ tid, name: t.name, ms: t.ms - (before.get(tid)?.ms ?? 0) }));
  const main = spent.find((t) => t.tid === pid)?.ms ?? Number.NaN;
  const writer = spent.filter((t) => t.tid !== pid && t.name.startsWith("Worker")).sort((a, b) => b.ms - a.ms)[0]?.ms ?? Number.NaN;
  const total = spent.reduce((n, t) => n + t.ms, 0);
  return { mainUs: (main * 1000) / units, writerUs: (writer * 1000) / units, totalUs: (total * 1000) / units };
}

/** The sink's CPU and context switches so far, to be read per request with sinkPer. */
const sinkMark = () => ({ cpuMs: processCpuMs(sink.pid), switches: processSwitches(sink.pid) });

/** What each request cost the sink since `mark`: CPU µs and context switches (its wake-ups). */
function sinkPer(mark: ReturnType<typeof sinkMark>, requests: number) {
  const now = sinkMark();
  return { cpuUs: ((now.cpuMs - mark.cpuMs) * 1000) / requests, switches: (now.switches - mark.switches) / requests };
}

// 1. The bare loop.
async function bareLoop(n: number) {
  let next = 0;
  const mark = sinkMark();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < n) await (await fetch(sinkUrl, { method: "POST", body: BODY, headers: { "content-type": "application/json" } })).arrayBuffer();
    }),
  );
  return { rate: n / ((performance.now() - started) / 1000), sink: sinkPer(mark, n) };
}

// 2. The drain of a stored backlog: `stored` deliveries, timed from the `from`-th to the last.
async function drain(stored: number, from: number) {
  const cwd = mkdtempSync(join(dir, "drain-"));
  await seedPendingDeliveries(`file:${join(cwd, "relay.db")}`, stored, BODY);
  const base = await sinkCount();
  const relay = await startRelay({ route: true, sinkUrl, cwd });
  let cpu0 = threadCpuMs(relay.proc.pid);
  let sink0 = sinkMark();
  const seconds = await timedBySink(base, from, stored, () => {
    cpu0 = threadCpuMs(relay.proc.pid);
    sink0 = sinkMark();
  });
  const cpu = cpuPer(relay.proc.pid, cpu0, stored - from);
  const sinkCost = sinkPer(sink0, stored - from);
  await relay.stop();
  return { rate: (stored - from) / seconds, cpu, sink: sinkCost };
}

/**
 * Looks at the sink every 10 ms until it got `stored` more requests than `base`, `each` at every
 * look; `atFrom` once it got `from` (the timed part starts there). Resolves with the seconds from
 * `from` to `stored`.
 */
async function timedBySink(base: number, from: number, stored: number, atFrom: () => void, each: () => void = () => {}): Promise<number> {
  let t0 = 0;
  for (;;) {
    const n = (await sinkCount()) - base;
    each();
    if (t0 === 0 && n >= from) {
      t0 = performance.now();
      atFrom();
    }
    if (n >= stored) return (performance.now() - t0) / 1000;
    await Bun.sleep(10);
  }
}

/**
 * A drain's floor: `stored` deliveries drained by a process shaped as the relay (an event loop
 * sending, a writer thread leasing and recording in one transaction a round), to the same sink,
 * timed as `drain` is. `script`: bench/drain-floor.ts (nothing of the product) or
 * bench/drain-floor-product.ts (the product's store and requests, nothing of the relay's engine).
 */
async function floorDrain(script: string, stored: number, from: number) {
  const file = join(mkdtempSync(join(dir, "floor-")), "floor.db");
  const base = await sinkCount();
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, script), sinkUrl, file, String(stored)], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, FLOOR_BODY: BODY },
  });
  children.push(proc);
  // It exits once done, its /proc entry with it: the last reading while it ran (10 ms at most before its end) stands.
  let cpu = processCpuMs(proc.pid);
  let cpu0 = cpu;
  const readCpu = () => {
    const now = processCpuMs(proc.pid);
    if (!Number.isNaN(now)) cpu = now;
  };
  const seconds = await timedBySink(base, from, stored, () => (cpu0 = cpu), readCpu);
  const totalUs = ((cpu - cpu0) * 1000) / (stored - from);
  await proc.exited;
  return { rate: (stored - from) / seconds, cpu: { mainUs: Number.NaN, writerUs: Number.NaN, totalUs }, sink: { cpuUs: Number.NaN, switches: Number.NaN } };
}

// 3. Ingest alone.
async function ingestAlone(): Promise<number> {
  const relay = await startRelay({ route: false, sinkUrl });
  const script = writeWrkScript(dir, BODY, SIGNATURE);
  await warmUp({ url: relay.ingestUrl, script, connections: CONCURRENCY });
  const r = await runWrk({ url: relay.ingestUrl, script, connections: CONCURRENCY, duration: "10s" });
  await relay.stop();
  return r.rps;
}

// 4. In and out at fixed offered rates.
async function inAndOut(ingestRps: number) {
  const offeredAt = (share: number) => Math.round((ingestRps * share) / 50) * 50;
  const relay = await startRelay({ route: true, sinkUrl });
  const steps: { offered: number; ingest: number; delivered: number; depthBefore: number; depthAfter: number; cpuUs: number }[] = [];
  // Warm, as ingest alone is: WARMUP of the first step's load, unmeasured (JIT, connections), and its queue delivered.
  const warmSeconds = Number.parseFloat(WARMUP) || 0;
  if (warmSeconds > 0) await fixedRate({ url: relay.ingestUrl, body: BODY, signature: SIGNATURE }, offeredAt(SHARES[0]!), warmSeconds, "warm");
  for (let i = 0; i < 200 && (await relay.depth()) > 0; i++) await Bun.sleep(50);
  for (const share of SHARES) {
    const offered = offeredAt(share);
    const depthBefore = await relay.depth();
    const deliveredBefore = await relay.delivered();
    const cpu0 = threadCpuMs(relay.proc.pid);
    const t0 = performance.now();
    const r = await fixedRate({ url: relay.ingestUrl, body: BODY, signature: SIGNATURE }, offered, STEP_SEC, `io${offered}`);
    const seconds = (performance.now() - t0) / 1000;
    const delivered = (await relay.delivered()) - deliveredBefore;
    const depthAfter = await relay.depth();
    steps.push({ offered, ingest: r.ok / seconds, delivered: delivered / seconds, depthBefore, depthAfter, cpuUs: cpuPer(relay.proc.pid, cpu0, Math.max(1, delivered)).totalUs });
    console.error(`in and out at ${offered}/s: ingested ${(r.ok / seconds).toFixed(0)}/s, delivered ${(delivered / seconds).toFixed(0)}/s, queue ${depthBefore} → ${depthAfter}`);
    if (depthAfter > depthBefore + CONCURRENCY * 4) break; // higher rates only grow it faster
    // Let a small leftover drain before the next step.
    for (let i = 0; i < 100 && (await relay.depth()) > 0; i++) await Bun.sleep(50);
  }
  await relay.stop();
  return steps;
}

// 5. End to end at 100 events/s, through the relay and through the machine's floor.
/**
 * The floor of step 5 on this machine: a process of its own, as the relay is,
 * that reads the body, writes what a fresh event's durable commit writes to
 * the WAL (12 frames of 4 KB, each a header and a page) and fdatasyncs it,
 * answers, and forwards the body with fetch. What the relay adds is the rest.
 */
const FLOOR_RELAY_SCRIPT = `
const fs = require("node:fs");
const fd = fs.openSync(process.env.FLOOR_WAL, "w");
const header = Buffer.alloc(24, 1), page = Buffer.alloc(4096, 7);
const s = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) {
  const body = await req.arrayBuffer();
  for (let i = 0, at = 0; i < 12; i++, at += 4120) { fs.writeSync(fd, header, 0, 24, at); fs.writeSync(fd, page, 0, 4096, at + 24); }
  fs.fdatasyncSync(fd);
  void fetch(process.env.FLOOR_TARGET, { method: "POST", body, headers: { "content-type": "application/json" } }).then((r) => r.arrayBuffer());
  return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
} });
console.log(s.port);`;

async function startFloorRelay(targetUrl: string) {
  const proc = Bun.spawn([process.execPath, "-e", FLOOR_RELAY_SCRIPT], { stdout: "pipe", stderr: "inherit", env: { ...process.env, FLOOR_WAL: join(dir, "floor.wal"), FLOOR_TARGET: targetUrl } });
  children.push(proc);
  // It answers on any path; sinkUrlOf reads the port it prints, as a sink's.
  return { ingestUrl: await sinkUrlOf(proc), stop: async () => void proc.kill() };
}

/** How many events a relay takes, at a faster pace, between its fresh and its warm measure of step 5 (the JIT's optimising tier reaches the ingest path after ~1,500). */
const E2E_WARMUP = 3000;

/**
 * Provider send → target receive at 100 events/s through `start`'s relay (the
 * receiving end in this process, so both ends share one clock): 1,000 events
 * from its start (fresh: after 100 unmeasured), then E2E_WARMUP more at ~1,000/s,
 * then 1,000 again at 100/s (warm, as a relay that has been running).
 */
async function endToEnd(start: (targetUrl: string) => Promise<{ ingestUrl: string; stop(): Promise<void> }>): Promise<{ fresh: number[]; warm: number[] }> {
  const sent = new Map<string, number>();
  let latencies: number[] = [];
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const at = performance.now();
      const { n } = (await req.json()) as { n: string };
      const t = sent.get(n);
      if (t !== undefined) latencies.push(at - t);
      return new Response("ok");
    },
  });
  const relay = await start(`http://127.0.0.1:${receiver.port}/hooks`);
  const send = async (n: string) => {
    const body = JSON.stringify({ type: "order.paid", n });
    const sig = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
    sent.set(n, performance.now());
    await (await fetch(relay.ingestUrl, { method: "POST", body, headers: { "content-type": "application/json", "x-signature": sig, "x-request-id": n } })).arrayBuffer();
  };
  const paced = async (label: string, count: number, intervalMs: number) => {
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const wait = t0 + i * intervalMs - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      pending.push(send(`${label}-${i}`));
    }
    await Promise.all(pending);
    for (let i = 0; i < 100 && latencies.length < count; i++) await Bun.sleep(20);
  };
  const measured = async (label: string) => {
    await Bun.sleep(200);
    latencies = [];
    await paced(label, 1000, 10);
    const taken = latencies.sort((a, b) => a - b);
    latencies = [];
    return taken;
  };
  for (let i = 0; i < 100; i++) await send(`start-${i}`); // connections and first compiles, not measured
  const fresh = await measured("fresh");
  await paced("warm-up", E2E_WARMUP, 1);
  const warm = await measured("warm");
  await relay.stop();
  receiver.stop(true);
  return { fresh, warm };
}

// BENCH_ONLY=drain (or inout, or e2e) runs the bare loop and that part alone, for quick comparisons.
const only = process.env.BENCH_ONLY;
await bareLoop(2000); // warm-up
const { rate: bare, sink: bareSink } = await bareLoop(EVENTS);
const none = { rate: Number.NaN, cpu: { mainUs: Number.NaN, writerUs: Number.NaN, totalUs: Number.NaN }, sink: { cpuUs: Number.NaN, switches: Number.NaN } };
// Cold: a relay started on the backlog, timed from the 1,000th delivery (its JIT still compiling),
// DRAINS times, each between two bare loops (the first the one above) whose mean is its baseline,
// so that the machine drifting during a pair moves both sides; the median pair is the figure.
const coldPairs: { bare: number; drain: typeof none }[] = [];
let bareBefore = bare;
const betweenBareLoops = async (run: () => Promise<typeof none>) => {
  const drained = await run();
  const bareAfter = (await bareLoop(EVENTS)).rate;
  const pair = { bare: (bareBefore + bareAfter) / 2, drain: drained };
  bareBefore = bareAfter;
  return pair;
};
if (!only || only === "drain") for (let i = 0; i < DRAINS; i++) coldPairs.push(await betweenBareLoops(() => drain(EVENTS, 1000)));
const ratioOf = (p: (typeof coldPairs)[number]) => p.drain.rate / p.bare;
const median = (pairs: typeof coldPairs) => [...pairs].sort((a, b) => ratioOf(a) - ratioOf(b))[Math.floor((pairs.length - 1) / 2)] ?? { bare, drain: none };
const medianPair = median(coldPairs);
// The floor, DRAINS times between bare loops too: what share of the bare loop a drain can reach here at all.
const floorPairs: typeof coldPairs = [];
if (!only || only === "drain") for (let i = 0; i < DRAINS; i++) floorPairs.push(await betweenBareLoops(() => floorDrain("drain-floor.ts", EVENTS, 1000)));
const floorPair = median(floorPairs);
// And with the product's work in it: how much of the way from the floor to the relay is the product's, how much its engine's.
const productPairs: typeof coldPairs = [];
if (!only || only === "drain") for (let i = 0; i < DRAINS; i++) productPairs.push(await betweenBareLoops(() => floorDrain("drain-floor-product.ts", EVENTS, 1000)));
const productPair = median(productPairs);
const drained = medianPair.drain;
// Warm, as the other figures are: the same count timed after as many delivered first.
const warmPair = !only || only === "drain" ? await betweenBareLoops(() => drain(2 * EVENTS, EVENTS)) : { bare, drain: none };
const { bare: bareWarm, drain: drainedWarm } = warmPair;
// In and out between two ingest-alone runs, its ratio taken to their mean (as a drain's to its
// bare loops): the machine's speed drifts more within a run than the ratio's margin.
const ingestBefore = !only || only === "inout" ? await ingestAlone() : Number.NaN;
const steps = !only || only === "inout" ? await inAndOut(ingestBefore) : [];
const ingestAfter = steps.length > 0 ? await ingestAlone() : Number.NaN;
const ingestRps = (ingestBefore + ingestAfter) / 2;
const noLatencies = { fresh: [], warm: [] };
const floorLat = !only || only === "e2e" ? await endToEnd(startFloorRelay) : noLatencies;
const lat = !only || only === "e2e" ? await endToEnd((targetUrl) => startRelay({ route: true, sinkUrl: targetUrl })) : noLatencies;
sink.kill();
rmSync(dir, { recursive: true, force: true });

const n = (x: number, d = 0) => x.toFixed(d);
const flat = steps.filter((s) => s.depthAfter <= s.depthBefore + IN_THE_AIR).at(-1);
console.log(`binary: ${bin}`);
const sinkLine = (s: typeof bareSink) => `  the sink per request: ${n(s.cpuUs)} µs CPU, ${n(s.switches, 3)} context switches`;
console.log(`bare 64-way fetch loop to the sink   ${n(bare).padStart(7)} req/s`);
console.log(sinkLine(bareSink));
// BENCH_ONLY prints the parts it ran.
if (coldPairs.length > 0) {
  for (const [i, p] of coldPairs.entries())
    console.log(`  cold drain ${i + 1} of ${coldPairs.length}: bare loop ${n(p.bare)} req/s (before and after), drain ${n(p.drain.rate)} deliveries/s, ${n(ratioOf(p), 2)}×`);
  console.log(`drain of ${EVENTS} stored deliveries   ${n(drained.rate).padStart(7)} deliveries/s   ${n(ratioOf(medianPair), 2)}× its bare loop, the median of ${coldPairs.length} (aim ≥ 0.4)`);
  console.log(`  CPU per delivery: event loop ${n(drained.cpu.mainUs)} µs + writer ${n(drained.cpu.writerUs)} µs = ${n(drained.cpu.mainUs + drained.cpu.writerUs)} µs (aim ≤ 100); whole process ${n(drained.cpu.totalUs)} µs`);
  console.log(sinkLine(drained.sink));
  for (const [i, p] of floorPairs.entries())
    console.log(`  floor drain ${i + 1} of ${floorPairs.length}: bare loop ${n(p.bare)} req/s (before and after), ${n(p.drain.rate)} deliveries/s, ${n(ratioOf(p), 2)}×`);
  console.log(`the drain's floor (bench/drain-floor.ts)  ${n(floorPair.drain.rate).padStart(7)} deliveries/s   ${n(ratioOf(floorPair), 2)}× its bare loop, the median of ${floorPairs.length}; ${n(floorPair.drain.cpu.totalUs)} µs process CPU per delivery`);
  console.log(`  the relay's cold drain is ${n(ratioOf(medianPair) / ratioOf(floorPair), 2)}× the floor's (each to its own bare loops)`);
  for (const [i, p] of productPairs.entries())
    console.log(`  product floor drain ${i + 1} of ${productPairs.length}: bare loop ${n(p.bare)} req/s (before and after), ${n(p.drain.rate)} deliveries/s, ${n(ratioOf(p), 2)}×`);
  console.log(`the floor with the product's work (bench/drain-floor-product.ts)  ${n(productPair.drain.rate).padStart(7)} deliveries/s   ${n(ratioOf(productPair), 2)}× its bare loop, the median of ${productPairs.length}; ${n(productPair.drain.cpu.totalUs)} µs process CPU per delivery`);
  console.log(`  the relay's cold drain is ${n(ratioOf(medianPair) / ratioOf(productPair), 2)}× its (each to its own bare loops)`);
  console.log(`drain, warm (the last ${EVENTS} of ${2 * EVENTS})  ${n(drainedWarm.rate).padStart(7)} deliveries/s   ${n(drainedWarm.rate / bareWarm, 2)}× its bare loops (${n(bareWarm)} req/s before and after)`);
  console.log(`  CPU per delivery: event loop ${n(drainedWarm.cpu.mainUs)} µs + writer ${n(drainedWarm.cpu.writerUs)} µs = ${n(drainedWarm.cpu.mainUs + drainedWarm.cpu.writerUs)} µs; whole process ${n(drainedWarm.cpu.totalUs)} µs`);
  console.log(sinkLine(drainedWarm.sink));
}
if (steps.length > 0) {
  console.log(`ingest alone (wrk, 64 connections)   ${n(ingestRps).padStart(7)} req/s (before and after in and out: ${n(ingestBefore)} / ${n(ingestAfter)})`);
  for (const s of steps)
    console.log(`  in and out at ${s.offered}/s: ingested ${n(s.ingest)}/s, delivered ${n(s.delivered)}/s, queue ${s.depthBefore} → ${s.depthAfter}, ${n(s.cpuUs)} µs process CPU per event`);
  console.log(flat ? `in and out with the queue flat        ${n(flat.ingest).padStart(7)} events/s   ${n(flat.ingest / ingestRps, 2)}× ingest alone (aim ≥ 0.35)` : "in and out: no step kept the queue flat");
}
const latencyLine = (l: number[]) => `p50 ${n(pct(l, 0.5), 2)} ms, p90 ${n(pct(l, 0.9), 2)} ms, p99 ${n(pct(l, 0.99), 2)} ms`;
if (lat.warm.length > 0) {
  console.log(`end to end at 100 events/s, warm (${lat.warm.length} events after ${E2E_WARMUP + 1100}): ${latencyLine(lat.warm)} (aim p50 ≤ 2)`);
  console.log(`  the machine's floor (read, 12 WAL frames + fdatasync, answer, forward), warm: ${latencyLine(floorLat.warm)}; the relay adds ${n(pct(lat.warm, 0.5) - pct(floorLat.warm, 0.5), 2)} ms at p50`);
  console.log(`  fresh (the ${lat.fresh.length} events after the first 100 from start): ${latencyLine(lat.fresh)}; the floor's ${latencyLine(floorLat.fresh)}`);
}
