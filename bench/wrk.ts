/**
 * What the ingest benchmarks share: the wrk Lua script (each request a new
 * event: X-Request-Id varies per run, thread and request), one wrk run parsed into
 * figures, an open-loop load at a fixed rate (latency below saturation), the
 * relay's config (one generic-hmac source, one sink target), and a process's
 * CPU time from /proc.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { makeId } from "../src/core/ids.ts";
import { openStore } from "../src/store/index.ts";
import { startSearchIndexer } from "../src/ingest/search-indexer.ts";
import { silentLogger } from "../src/log/logger.ts";

/** Figures of one wrk run; latencies in ms. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  sockErrors: number;
}

/** Writes the POST script into `dir` and returns its path. */
export function writeWrkScript(dir: string, body: string, signatureHeader: string): string {
  const path = join(dir, "post.lua");
  writeFileSync(
    path,
    `wrk.method = "POST"
wrk.body = ${JSON.stringify(body)}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature"] = "${signatureHeader}"
local counter = 0
local threads = 0
local runId = nil
-- A fresh prefix per wrk run, so that a warm-up's ids are not the measured run's (dedupe).
setup = function(thread)
  if runId == nil then local f = io.open("/proc/sys/kernel/random/uuid"); runId = f:read("*l"); f:close() end
  threads = threads + 1; thread:set("tid", threads); thread:set("run", runId)
end
init = function() counter = 0 end
request = function()
  counter = counter + 1
  wrk.headers["X-Request-Id"] = run .. "-" .. tid .. "-" .. counter
  return wrk.format()
end
`,
  );
  return path;
}

/** Runs `wrk -t2 --latency` with the script against `url` and parses its report. */
export async function runWrk(opts: { url: string; script: string; connections: number; duration: string; onSpawn?: (p: ReturnType<typeof Bun.spawn>) => void }): Promise<WrkResult> {
  const p = Bun.spawn(["wrk", "-t2", `-c${opts.connections}`, `-d${opts.duration}`, "--latency", "-s", opts.script, opts.url], { stdout: "pipe" });
  opts.onSpawn?.(p);
  const out = await new Response(p.stdout as ReadableStream).text();
  await p.exited;
  const ms = (label: string) => {
    const m = out.match(new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`));
    if (!m) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0),
    p50: ms("50%"),
    p99: ms("99%"),
    requests: Number(out.match(/(\d+) requests in/)?.[1] ?? 0),
    non2xx: Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
    sockErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/**
 * BENCH_WARMUP (default 3s, "0" for none): how long each server is driven by
 * the same wrk load, unmeasured, before its measured run. Servers are
 * measured warm, as they run in production: JIT compilation (Bun, Node) and
 * first allocations are not counted against the figures of a long-running
 * process. The requests it makes are counted for the durability checks.
 */
export const WARMUP = process.env.BENCH_WARMUP ?? "3s";

/** The unmeasured warm-up run (see WARMUP); null when disabled. */
export async function warmUp(opts: { url: string; script: string; connections: number }): Promise<WrkResult | null> {
  if (WARMUP === "0" || WARMUP === "") return null;
  return runWrk({ ...opts, duration: WARMUP });
}

/** Requests a wrk run got a 2xx answer for (0 for none). */
export const ackedBy = (r: WrkResult | null) => (r ? r.requests - r.non2xx - r.sockErrors : 0);

/** A port free on 127.0.0.1 right now. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** Resolves once `url` answers over HTTP; throws if `proc` exits first or nothing answers in 10 s. */
export async function waitForHttp(url: string, proc: { exitCode: number | null }): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`server for ${url} exited with ${proc.exitCode}`);
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
  throw new Error(`nothing listening at ${url}`);
}

/** The command of a sink target in its own process (as a real internal service would be); it prints its port. */
export const SINK_COMMAND = [
  process.execPath,
  "-e",
  `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { await req.arrayBuffer(); return new Response("ok"); } }); console.log(s.port);`,
];

/**
 * A sink that counts what it receives (GET answers the count): a drain is timed by it, not by
 * scraping the relay's /metrics, whose queue gauges would add their own work to what is measured.
 */
export const COUNTING_SINK_COMMAND = [
  process.execPath,
  "-e",
  `let n = 0; const s = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { if (req.method === "GET") return new Response(String(n)); await req.arrayBuffer(); n++; return new Response("ok"); } }); console.log(s.port);`,
];

/** Reads the port a SINK_COMMAND (or COUNTING_SINK_COMMAND) process prints and gives its URL. */
export async function sinkUrlOf(proc: { stdout: unknown }): Promise<string> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  return `http://127.0.0.1:${port}/hooks`;
}

/** What /proc says of one thread so far: its name, CPU time (ms), minor page faults and context switches. */
export interface ThreadStats {
  name: string;
  cpuMs: number;
  faults: number;
  switches: number;
}

/** Every thread of a process by thread id, from /proc; empty elsewhere (not Linux, or the process is gone). */
export function threadStats(pid: number): Map<number, ThreadStats> {
  const out = new Map<number, ThreadStats>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      // Fields after the name: minflt is the 8th, utime and stime the 12th and 13th (clock ticks, USER_HZ = 100).
      const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      const switches = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]);
      out.set(Number(tid), {
        name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100,
        faults: Number(fields[7]),
        switches,
      });
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

/** CPU time (ms) of each thread of a process by thread id, with the thread's name, from /proc; empty elsewhere. */
export function threadCpuMs(pid: number): Map<number, { name: string; ms: number }> {
  return new Map([...threadStats(pid)].map(([tid, t]) => [tid, { name: t.name, ms: t.cpuMs }]));
}

/** User + system CPU time of a process (all its threads) in ms, from /proc; NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/**
 * Context switches of every thread of a process so far (voluntary and not),
 * from /proc; NaN elsewhere. A server that sleeps and wakes for each request
 * pays for each wake-up: per request, this tells how its load arrives.
 */
export function processSwitches(pid: number): number {
  const threads = [...threadStats(pid).values()];
  return threads.length === 0 ? Number.NaN : threads.reduce((n, t) => n + t.switches, 0);
}

/**
 * Open-loop load at a fixed rate: requests are sent on schedule whether or
 * not earlier ones were answered (up to 256 in flight, one per keep-alive
 * connection; beyond that a request is counted as skipped, i.e. the server
 * fell behind). Plain HTTP/1.1 over Bun's sockets rather than fetch: on a
 * small machine the load generator shares the CPU with the relay it
 * measures, and fetch cost it about twice as much per request.
 */
export async function fixedRate(
  target: { url: string; body: string; signature: string },
  ratePerSec: number,
  seconds: number,
  tag: string,
): Promise<{ ok: number; failed: number; skipped: number; latMs: number[] }> {
  const { hostname, port, pathname, search, host } = new URL(target.url);
  const head = `POST ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nX-Signature: ${target.signature}\r\nContent-Length: ${Buffer.byteLength(target.body)}\r\nX-Request-Id: ${tag}-`;
  const total = Math.round(ratePerSec * seconds);
  let issued = 0;
  let inflight = 0;
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  const latMs: number[] = [];
  /** A connection's request in flight: when it was sent (0: none) and the reply read so far. */
  interface Conn { sentAt: number; reply: Buffer | null }
  const idle = new Set<Bun.Socket<Conn>>();
  const settle = (s: Bun.Socket<Conn>, status: number | null) => {
    inflight--;
    if (status === 200) ok++;
    else failed++;
    if (status !== null) latMs.push(performance.now() - s.data.sentAt);
    s.data.sentAt = 0;
    s.data.reply = null;
  };
  const connect = () =>
    Bun.connect<Conn>({
      hostname,
      port: Number(port),
      data: { sentAt: 0, reply: null },
      socket: {
        data(s, chunk) {
          const reply = (s.data.reply = s.data.reply ? Buffer.concat([s.data.reply, chunk]) : Buffer.from(chunk));
          const end = reply.indexOf("\r\n\r\n");
          if (end < 0) return;
          const headers = reply.toString("latin1", 0, end).toLowerCase();
          const length = /\r\ncontent-length: *(\d+)/.exec(headers);
          if (length ? reply.length < end + 4 + Number(length[1]) : !reply.includes("\r\n0\r\n\r\n", end)) return;
          settle(s, Number(headers.slice(9, 12)));
          idle.add(s);
        },
        close(s) {
          idle.delete(s);
          if (s.data.sentAt > 0) settle(s, null);
        },
        error() {},
      },
    });
  // Opened before the clock starts, so that no connect is on the measured path.
  const open = await Promise.all(Array.from({ length: Math.min(256, Math.max(8, total)) }, connect));
  for (const s of open) idle.add(s);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec));
      while (issued < due) {
        issued++;
        const s = idle.values().next().value;
        if (!s) {
          skipped++;
          continue;
        }
        idle.delete(s);
        inflight++;
        s.data.sentAt = performance.now();
        s.write(`${head}${issued}\r\n\r\n${target.body}`);
      }
      if (issued >= total && inflight === 0) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  for (const s of open) s.end();
  return { ok, failed, skipped, latMs: latMs.sort((a, b) => a - b) };
}

/** The p-quantile (0–1) of ascending values. */
export const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

/** What a bench relay's config varies by (benchRelayToml), its ports aside. */
export interface BenchRelayConfig {
  secret: string;
  sinkUrl: string;
  signingSecret: string;
  route: boolean;
  concurrency?: number;
  filteredRoutes?: boolean;
  /** [store] search = false (no full-text indexing). */
  noSearch?: boolean;
  /** [store] url (default: ./relay.db beside the config). */
  storeUrl?: string;
}

/** A bench relay started by startBenchRelay. */
export interface BenchRelay {
  proc: Subprocess;
  /** The bench source's ingest URL. */
  ingestUrl: string;
  /** The admin side (loopback: /metrics and the API without a token). */
  adminUrl: string;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * `bin serve` in `cwd` with benchRelayToml on two free ports, once its admin
 * side answers. `spawn` lets a bench keep track of its children (to kill them
 * when it exits); by default the relay's stdout is dropped and stderr inherited.
 */
export async function startBenchRelay(
  bin: string,
  cwd: string,
  config: BenchRelayConfig,
  spawn: (cmd: string[], cwd: string) => Subprocess = (cmd, dir) => Bun.spawn(cmd, { cwd: dir, stdout: "ignore", stderr: "inherit" }),
): Promise<BenchRelay> {
  const publicPort = freePort();
  const adminPort = freePort();
  writeFileSync(join(cwd, "hookrelay.toml"), benchRelayToml({ ...config, publicPort, adminPort }));
  const proc = spawn([bin, "serve", "--config", "hookrelay.toml"], cwd);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitForHttp(`${adminUrl}/healthz`, proc);
  return {
    proc,
    ingestUrl: `http://127.0.0.1:${publicPort}/in/bench`,
    adminUrl,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/**
 * The benches' relay config: one generic `hmac` source "bench" (X-Signature,
 * sha256 hex, prefix `sha256=`, dedupe on X-Request-Id) and one target "sink";
 * with `route` false the source routes nowhere (ingest alone); with
 * `filteredRoutes` the one route is ten routes with payload filters instead
 * (FILTERED_ROUTES: the first takes every bench event, nine never do).
 */
export function benchRelayToml(o: BenchRelayConfig & { publicPort: number; adminPort: number }): string {
  return `log_level = "warn"
[server]
listen = "127.0.0.1:${o.publicPort}"
admin_listen = "127.0.0.1:${o.adminPort}"
[store]
url = "${o.storeUrl ?? "file:./relay.db"}"
${o.noSearch ? "search = false\n" : ""}[[sources]]
name = "bench"
verify = { scheme = "hmac", header = "X-Signature", algorithm = "sha256", encoding = "hex", prefix = "sha256=", signed = "{body}", secret = "${o.secret}" }
dedupe = { key = ["header:X-Request-Id"] }
event_type = "$.type"
[[targets]]
name = "sink"
url = "${o.sinkUrl}"
signing = { secret = "${o.signingSecret}" }
${o.concurrency ? `concurrency = ${o.concurrency}\n` : ""}${!o.route ? "" : o.filteredRoutes ? FILTERED_ROUTES : '[[routes]]\nfrom = "bench"\nto = ["sink"]\n'}`;
}

/**
 * Ten routes with payload filters for the bench body ({"type": "order.paid", "data": {"id": "ord_123",
 * "amount": 4200, "currency": "EUR", …}}): the first matches, the nine others fail at body, header,
 * query, \$or, \$not and glob checks, so every event is judged by all ten and still goes to the sink once.
 */
export const FILTERED_ROUTES = [
  `event_types = ["order.*"]\nfilter.body = { data = { amount = { "$gte" = 1000 }, currency = { "$in" = ["EUR", "USD"] } } }`,
  `filter.body = { data = { amount = { "$gte" = 100000 } } }`,
  `filter.body = { data = { currency = "GBP" } }`,
  `filter.headers = { "X-Shop-Domain" = "acme.myshopify.com" }`,
  `filter.body = { "$or" = [{ type = "order.refunded" }, { data = { note = { "$contains" = "vip" } } }] }`,
  `filter.query = { env = "live" }`,
  `event_types = ["invoice.*"]\nfilter.body = { data = { amount = { "$gte" = 1 } } }`,
  `filter.body = { data = { id = { "$startsWith" = "sub_" } } }`,
  `filter.body = { "$not" = { data = { currency = "EUR" } } }`,
  `filter.headers = { "x-request-id" = { "$exists" = false } }`,
]
  .map((filter) => `[[routes]]\nfrom = "bench"\nto = ["sink"]\n${filter}\n`)
  .join("\n");

/** Stores `events` events of `body` on the store at `url`, each with one pending delivery to the target "sink" (a backlog to drain). */
export async function seedPendingDeliveries(url: string, events: number, body: string): Promise<void> {
  const store = await openStore({ url, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0 });
  const rnd = () => crypto.getRandomValues(new Uint8Array(10));
  const bytes = new TextEncoder().encode(body);
  for (let i = 0; i < events; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, events - i) }, () => {
        const now = Date.now();
        const id = makeId("evt", now, rnd());
        return store.writer.submit({
          id, source: "bench", eventType: "order.paid", dedupeKey: id, dedupeWindowMs: 0, receivedAt: now, method: "POST", path: "/in/bench",
          query: "", headers: [["content-type", "application/json"]], body: bytes, contentType: "application/json", remoteAddr: "127.0.0.1",
          deliveries: [{ id: makeId("dlv", now, rnd()), target: "sink", status: "pending" }],
        });
      }),
    );
  }
  // As a relay leaves a backlog it stored: its events searchable (the indexer follows ingest within
  // seconds). Otherwise the relay under test would index them all while it drains.
  const indexer = startSearchIndexer({ store, log: silentLogger, maxDecodedBytes: 1 << 20, everyMs: 60_000 });
  await indexer.drain();
  await indexer.stop();
  await store.close();
}
