/**
 * PostgreSQL against the embedded file (by hand: `bun bench/postgres.ts`,
 * ~2 minutes; needs `wrk` and Debian's `postgresql`). Starts a throwaway
 * cluster on 127.0.0.1 with fsync on and synchronous_commit on (as in
 * production; test/support/pg-cluster.ts), and in one run measures, with the
 * compiled binary:
 *
 *  1. ingest alone (wrk, 64 connections, after a warm-up; the source routed
 *     nowhere): one relay on the file, one relay on PostgreSQL, and two
 *     relays on one PostgreSQL database (wrk 32 connections at each, summed);
 *  2. drain: BENCH_EVENTS (20,000) stored pending deliveries to a sink
 *     process (target concurrency 64), timed from the 1,000th to the last,
 *     on the file and on PostgreSQL, one relay each.
 *
 * Prints each figure and its ratio to the file's from the same run. On a
 * 2-core machine the relays, wrk, the sink and the database server share
 * the same CPUs: two relays can only show how much of one relay's time was
 * spent waiting (for commits), not a second machine's worth.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary } from "../test/support/binary.ts";
import { createDatabase, startPgCluster } from "../test/support/pg-cluster.ts";
import { COUNTING_SINK_COMMAND, runWrk, seedPendingDeliveries, sinkUrlOf, startBenchRelay, warmUp, writeWrkScript, type WrkResult } from "./wrk.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const CONCURRENCY = 64;
const DURATION = process.env.BENCH_DURATION ?? "8s";
/** BENCH_NO_SEARCH=1: `[store] search = false` on every relay (the full-text indexer's share). */
const NO_SEARCH = process.env.BENCH_NO_SEARCH === "1";
/** BENCH_ONLY=ingest: the ingest figures alone. */
const ONLY = process.env.BENCH_ONLY;
const SECRET = "bench-secret";
const SIGNING = `whsec_${Buffer.from("bench-signing-secret-32-bytes!!!").toString("base64")}`;
const BODY = JSON.stringify({ type: "order.paid", data: { id: "ord_123", amount: 4200, currency: "EUR", note: "ë Ñ ú ✓" } });
const SIGNATURE = `sha256=${createHmac("sha256", SECRET).update(BODY).digest("hex")}`;

const bin = process.env.BENCH_BIN ? resolve(process.env.BENCH_BIN) : await ensureBinary();
const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-pg-"));
const children: Subprocess[] = [];
const spawnChild = (cmd: string[], cwd?: string): Subprocess => {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "inherit" });
  children.push(p);
  return p;
};
process.on("exit", () => children.forEach((c) => c.kill()));

const cluster = await startPgCluster();
const sink = spawnChild(COUNTING_SINK_COMMAND);
const sinkUrl = await sinkUrlOf(sink);
const sinkCount = async () => Number(await (await fetch(sinkUrl)).text());

/** A relay binary in its own directory on free ports, on `storeUrl`. */
function startRelay(opts: { route: boolean; storeUrl: string; cwd?: string }) {
  const config = { secret: SECRET, sinkUrl, signingSecret: SIGNING, route: opts.route, concurrency: CONCURRENCY, storeUrl: opts.storeUrl, noSearch: NO_SEARCH };
  return startBenchRelay(bin, opts.cwd ?? mkdtempSync(join(dir, "relay-")), config, spawnChild);
}

const fileUrl = () => `file:${join(mkdtempSync(join(dir, "file-")), "relay.db")}`;
const pgUrl = async (name: string) => (await createDatabase(cluster.baseUrl, name)).url;

/** Ingest alone through `relays` relays on one store: wrk at each (64 connections split), summed. */
async function ingest(storeUrl: string, relays: number): Promise<{ rps: number; p99: number }> {
  const started = [];
  for (let i = 0; i < relays; i++) started.push(await startRelay({ route: false, storeUrl }));
  const script = writeWrkScript(dir, BODY, SIGNATURE);
  const connections = CONCURRENCY / relays;
  await Promise.all(started.map((r) => warmUp({ url: r.ingestUrl, script, connections })));
  const results: WrkResult[] = await Promise.all(started.map((r) => runWrk({ url: r.ingestUrl, script, connections, duration: DURATION })));
  for (const r of started) await r.stop();
  const bad = results.reduce((n, r) => n + r.non2xx + r.sockErrors, 0);
  if (bad > 0) console.error(`  (${bad} requests not acknowledged)`);
  return { rps: results.reduce((n, r) => n + r.rps, 0), p99: Math.max(...results.map((r) => r.p99)) };
}

/** The drain of EVENTS stored pending deliveries on `storeUrl`, in deliveries/s. */
async function drain(storeUrl: string): Promise<number> {
  const cwd = mkdtempSync(join(dir, "drain-"));
  await seedPendingDeliveries(storeUrl, EVENTS, BODY);
  const base = await sinkCount();
  const relay = await startRelay({ route: true, storeUrl, cwd });
  const from = 1000;
  let t0 = 0;
  for (;;) {
    const n = (await sinkCount()) - base;
    if (t0 === 0 && n >= from) t0 = performance.now();
    if (n >= EVENTS) break;
    await Bun.sleep(10);
  }
  const rate = (EVENTS - from) / ((performance.now() - t0) / 1000);
  await relay.stop();
  return rate;
}

try {
  const fileIngest = await ingest(fileUrl(), 1);
  const pgIngest = await ingest(await pgUrl("ingest_one"), 1);
  const pgTwo = await ingest(await pgUrl("ingest_two"), 2);
  const fileDrain = ONLY === "ingest" ? Number.NaN : await drain(fileUrl());
  const pgDrain = ONLY === "ingest" ? Number.NaN : await drain(await pgUrl("drain"));
  const n = (x: number, d = 0) => x.toFixed(d);
  console.log(`binary: ${bin}`);
  console.log(`ingest alone, file              ${n(fileIngest.rps).padStart(7)} req/s  p99 ${n(fileIngest.p99, 1)} ms`);
  console.log(`ingest alone, PostgreSQL        ${n(pgIngest.rps).padStart(7)} req/s  p99 ${n(pgIngest.p99, 1)} ms   ${n(pgIngest.rps / fileIngest.rps, 2)}× the file (aim ≥ 0.5)`);
  console.log(`ingest, two relays on one db    ${n(pgTwo.rps).padStart(7)} req/s  p99 ${n(pgTwo.p99, 1)} ms   ${n(pgTwo.rps / pgIngest.rps, 2)}× one relay (aim ≥ 1.5 with a machine each)`);
  console.log(`drain of ${EVENTS}, file           ${n(fileDrain).padStart(7)} deliveries/s`);
  console.log(`drain of ${EVENTS}, PostgreSQL     ${n(pgDrain).padStart(7)} deliveries/s   ${n(pgDrain / fileDrain, 2)}× the file`);
} finally {
  sink.kill();
  for (const c of children) c.kill();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
