/**
 * Shared pieces of the fault and bad-input suites: a config for the compiled
 * binary, a signing provider (the `ploints` preset: hex HMAC-SHA256 of the raw
 * body), a scripted recording target on 127.0.0.1:0 that counts what is in
 * flight, the admin API, and polling with a deadline instead of sleeps.
 */
import { afterEach } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "./binary.ts";
import { openStore, type Store } from "../../src/store/index.ts";

export const PROVIDER_SECRET = "whsec_fault_suite_provider";
export const TARGET_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** A temp directory and its removal. */
export function scratchDir(prefix = "hookrelay-faults-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * What a fault suite undoes after each test, last first and best effort:
 * `later` takes anything (a target to stop, a lock holder to kill), `scratch`
 * makes a directory removed afterwards, `track` a binary SIGKILLed if still
 * running. Call once at the top of a test file: it registers the afterEach.
 */
export function perTestCleanups() {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // best effort
      }
    }
  });
  return {
    later: (c: () => unknown) => void cleanups.push(c),
    scratch(): string {
      const tmp = scratchDir();
      cleanups.push(tmp.remove);
      return tmp.dir;
    },
    track(bin: RunningBinary): RunningBinary {
      cleanups.push(() => (bin.proc.exitCode === null && !bin.proc.killed ? bin.stop("SIGKILL") : undefined));
      return bin;
    },
  };
}

export interface TargetOptions {
  url: string;
  timeout?: string;
  connectTimeout?: string;
  schedule?: string[];
  concurrency?: number;
  name?: string;
  /** Deliver in receive order, one at a time. */
  ordered?: boolean;
}

/** TOML for one `ploints` source `p` routed to the given push targets. */
export function relayToml(opts: {
  /** server.listen and server.admin_listen; 127.0.0.1:0 (a free port) by default. */
  listen?: string;
  adminListen?: string;
  storeUrl?: string;
  targets?: TargetOptions[];
  busyTimeout?: string;
  maxBody?: string;
  readTimeout?: string;
  maxInflight?: string;
  /** store.search (default on, as the relay's). */
  search?: boolean;
  logLevel?: string;
  /** Raw TOML appended at the end (more sources, routes). */
  extra?: string;
}): string {
  const targets = opts.targets ?? [];
  const lines = [
    `log_level = "${opts.logLevel ?? "info"}"`,
    "[server]",
    `listen = "${opts.listen ?? "127.0.0.1:0"}"`,
    `admin_listen = "${opts.adminListen ?? "127.0.0.1:0"}"`,
    `max_body = "${opts.maxBody ?? "256kb"}"`,
    `read_timeout = "${opts.readTimeout ?? "30s"}"`,
    ...(opts.maxInflight ? [`max_inflight = "${opts.maxInflight}"`] : []),
    "[store]",
    `url = "${opts.storeUrl ?? "file:./data/relay.db"}"`,
    `busy_timeout = "${opts.busyTimeout ?? "5s"}"`,
    ...(opts.search === false ? ["search = false"] : []),
    "[[sources]]",
    `name = "p"`,
    `verify = { preset = "ploints", secret = "${PROVIDER_SECRET}" }`,
  ];
  for (const [i, t] of targets.entries()) {
    lines.push(
      "[[targets]]",
      `name = "${t.name ?? `t${i}`}"`,
      `url = "${t.url}"`,
      `signing = { secret = "${TARGET_SECRET}" }`,
      `timeout = "${t.timeout ?? "2s"}"`,
      `connect_timeout = "${t.connectTimeout ?? "1s"}"`,
      `retry = { schedule = [${(t.schedule ?? ["0s", "500ms", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]).map((s) => `"${s}"`).join(", ")}], jitter = 0 }`,
      `concurrency = ${t.concurrency ?? 16}`,
      ...(t.ordered ? ["ordered = true"] : []),
    );
  }
  if (targets.length > 0) {
    lines.push("[[routes]]", `from = "p"`, `to = [${targets.map((t, i) => `"${t.name ?? `t${i}`}"`).join(", ")}]`);
  }
  if (opts.extra) lines.push(opts.extra);
  return lines.join("\n") + "\n";
}

/** Writes `toml` into `dir` and starts `hookrelay serve` there. */
export async function serveBinary(dir: string, toml: string): Promise<RunningBinary> {
  const cfg = join(dir, "hookrelay.toml");
  writeFileSync(cfg, toml);
  return startBinary(["serve", "--config", cfg], dir);
}

/** Runs `hookrelay <args>` to completion (SIGKILLed after `timeoutMs`, if given); returns its exit code and output. */
export async function runBinary(args: string[], cwd: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const { ensureBinary } = await import("./binary.ts");
  const bin = await ensureBinary();
  const p = Bun.spawn([bin, ...args], { cwd, env: { PATH: process.env.PATH ?? "" }, stdout: "pipe", stderr: "pipe", timeout: timeoutMs, killSignal: "SIGKILL" });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

/** The provider's signature header for `body`. */
export function signPloints(body: string | Uint8Array): string {
  return createHmac("sha256", PROVIDER_SECRET).update(body).digest("hex");
}

/** POSTs a signed ploints event; resolves with the status and the JSON answer (or throws on a dropped connection). */
export async function sendEvent(
  publicUrl: string,
  body: string | Uint8Array,
  extra: Record<string, string> = {},
): Promise<{ status: number; json: { id?: string; duplicate?: boolean; error?: { code: string; message: string } }; headers: Headers }> {
  const res = await fetch(`${publicUrl}/in/p`, {
    method: "POST",
    body: body as BodyInit,
    headers: { "content-type": "application/json", "x-ploints-signature": signPloints(body), ...extra },
  });
  const text = await res.text();
  let json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // non-JSON answers are asserted by status
  }
  return { status: res.status, json, headers: res.headers };
}

/** GET a JSON admin API path (the admin side is loopback without a token). */
export async function adminJson<T = any>(adminUrl: string, path: string): Promise<T> {
  const res = await fetch(`${adminUrl}${path}`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export interface TargetHit {
  webhookId: string;
  attempt: string | null;
  path: string;
  body: Uint8Array;
  headers: Headers;
  at: number;
}

export type TargetReply = Response | "hang" | Promise<Response>;

/**
 * A scripted HTTP target on 127.0.0.1:0: records every request, counts
 * requests in flight (and the peak), and answers from `script` (default 200).
 */
export function recordingTarget(script: (hit: TargetHit, n: number) => TargetReply = () => new Response("ok")) {
  const hits: TargetHit[] = [];
  const byId = new Map<string, number>();
  let inFlight = 0;
  let peak = 0;
  const hanging: (() => void)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        const hit: TargetHit = {
          webhookId: req.headers.get("webhook-id") ?? "",
          attempt: req.headers.get("hookrelay-attempt"),
          path: new URL(req.url).pathname,
          body: new Uint8Array(await req.arrayBuffer()),
          headers: req.headers,
          at: performance.now(),
        };
        hits.push(hit);
        byId.set(hit.webhookId, (byId.get(hit.webhookId) ?? 0) + 1);
        const reply = script(hit, hits.length);
        if (reply === "hang") {
          // Held until the test ends (or the client goes away): a target that accepted and never answers.
          return await new Promise<Response>((resolve) => hanging.push(() => resolve(new Response("late", { status: 503 }))));
        }
        return await reply;
      } finally {
        inFlight--;
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hooks`,
    hits,
    byId,
    inFlight: () => inFlight,
    peak: () => peak,
    resetPeak: () => void (peak = inFlight),
    async stop() {
      for (const h of hanging.splice(0)) h();
      await server.stop(true);
    },
  };
}

/** Opens a store file the way the tests inspect it (after the binary is gone, or beside it). */
export function openStoreFile(file: string): Promise<Store> {
  return openStore({ url: `file:${file}`, busyTimeoutMs: 5000, nowMs: Date.now, checkpointEveryMs: 0, inlineWriter: true });
}

/** A steady-rate sender of distinct signed events that behaves like a provider: it keeps retrying until acked. */
export function provider(opts: { rps: number; total: number; prefix: string; url: () => string | null }) {
  const acked = new Map<string, string>(); // provider event id → relay event id
  const ackedTwice: string[] = [];
  /** Events whose request failed without an answer at least once (maybe stored, maybe not). */
  const unanswered = new Set<string>();
  let stopped = false;
  let statuses: Record<number, number> = {};
  const pending: string[] = Array.from({ length: opts.total }, (_, i) => `${opts.prefix}_${i}`);
  const inflight = new Set<Promise<void>>();
  const sendOne = async (key: string) => {
    const url = opts.url();
    if (!url) return void pending.push(key);
    const body = JSON.stringify({ id: key, type: "points.earned", amount: 1 });
    try {
      const r = await sendEvent(url, body);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 200 && r.json.id) {
        const before = acked.get(key);
        if (before && before !== r.json.id) ackedTwice.push(key);
        acked.set(key, r.json.id);
      } else pending.push(key);
    } catch {
      unanswered.add(key);
      pending.push(key);
    }
  };
  const loop = (async () => {
    const interval = 1000 / opts.rps;
    let next = performance.now();
    while (!stopped && (pending.length > 0 || inflight.size > 0)) {
      const key = pending.shift();
      if (key !== undefined && !acked.has(key)) {
        const p = sendOne(key).finally(() => inflight.delete(p));
        inflight.add(p);
      } else if (key === undefined) {
        await Promise.race([...inflight, Bun.sleep(20)]);
        continue;
      }
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      else if (wait < -1000) next = performance.now(); // fell behind (relay down): do not burst
    }
    await Promise.all(inflight);
  })();
  return {
    acked,
    ackedTwice,
    unanswered,
    statuses: () => statuses,
    sentCount: () => acked.size,
    done: loop,
    stop() {
      stopped = true;
      return loop;
    },
  };
}

/** What a raw HTTP exchange returned: everything the server wrote, and whether it closed the connection. */
export interface RawReply {
  text: string;
  bytes: Uint8Array;
  status: number | null;
  closed: boolean;
}

/**
 * Speaks HTTP/1.1 by hand over TCP (for what fetch refuses to send: wrong
 * Content-Length, duplicate header lines, slow drips). Writes `parts` with
 * `gapMs` between them (stopping early once the server has answered),
 * optionally half-closes, then reads until the first response is complete,
 * the server closes, or `waitMs` passes.
 */
export async function rawHttp(
  port: number,
  parts: (string | Uint8Array)[],
  opts: { gapMs?: number; endAfterWrite?: boolean; waitMs?: number } = {},
): Promise<RawReply> {
  const chunks: Uint8Array[] = [];
  let closed = false;
  let wake: () => void = () => {};
  const joined = () => Buffer.concat(chunks);
  const complete = () => {
    const text = joined().toString("latin1");
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
    return cl ? text.length - end - 4 >= Number(cl[1]) : false;
  };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, d) => {
        chunks.push(new Uint8Array(d));
        if (complete()) wake();
      },
      close: () => {
        closed = true;
        wake();
      },
      error: () => {
        closed = true;
        wake();
      },
    },
  });
  const done = new Promise<void>((r) => (wake = r));
  try {
    for (const [i, part] of parts.entries()) {
      if (closed || chunks.length > 0) break;
      if (i > 0 && opts.gapMs) await Promise.race([Bun.sleep(opts.gapMs), done]);
      if (closed || chunks.length > 0) break;
      socket.write(typeof part === "string" ? new TextEncoder().encode(part) : part);
      socket.flush();
    }
    if (opts.endAfterWrite && !closed) socket.shutdown(true);
    if (!complete() && !closed) await Promise.race([done, Bun.sleep(opts.waitMs ?? 3000)]);
    // A server that closes right after answering may deliver the close a moment later.
    if (!closed) await Promise.race([done, Bun.sleep(20)]);
  } finally {
    socket.end();
  }
  const bytes = new Uint8Array(joined());
  const text = new TextDecoder().decode(bytes);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return { text, bytes, status: m ? Number(m[1]) : null, closed };
}
