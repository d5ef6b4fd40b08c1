/**
 * Shared pieces of the delivery tests: a throwaway store on a real SQLite file
 * with the real migrations, events submitted through the real ingest writer,
 * a fake clock, and a recording target (Bun.serve on port 0) whose replies are
 * scripted per request.
 */
import { setSystemTime } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TargetConfig } from "../../src/config/types.ts";
import { makeId } from "../../src/core/ids.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { freshStoreUrl, onPostgres } from "../support/test-store.ts";
import { Webhook } from "standardwebhooks";

export const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** A clock that moves only when the test says so. */
export function fakeClock(startMs = Date.parse("2030-01-01T00:00:00Z")) {
  let now = startMs;
  const clock = () => now;
  clock.advance = (ms: number) => {
    now += ms;
  };
  return clock;
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(cleanups: (() => void | Promise<void>)[]): string {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-delivery-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// On PostgreSQL each store "file" of a test is a database of its own, made on its first open.
const databases = new Map<string, string>();

/**
 * The store URL standing for `file`: the file itself, or (on the PostgreSQL
 * half of the matrix) a fresh database that every later call for the same
 * file shares, dropped by `cleanups` after the stores on it are closed.
 */
export async function storeUrlFor(file: string, cleanups: (() => void | Promise<void>)[]): Promise<string> {
  if (!onPostgres) return `file:${file}`;
  const known = databases.get(file);
  if (known) return known;
  const db = await freshStoreUrl(file);
  databases.set(file, db.url);
  cleanups.push(async () => {
    databases.delete(file);
    await db.drop();
  });
  return db.url;
}

/** Opens a store on `file` (a second call on the same file is a second connection, like a second process). */
export async function storeAt(file: string, cleanups: (() => void | Promise<void>)[], nowMs = () => 0): Promise<Store> {
  const store = await openStore({ url: await storeUrlFor(file, cleanups), busyTimeoutMs: 5000, nowMs, checkpointEveryMs: 0 });
  cleanups.unshift(() => store.close());
  return store;
}

let seq = 0;
/** Stores one event with pending deliveries to `targets` through the ingest writer; returns its id. */
export async function submitEvent(
  store: Store,
  opts: { targets: string[]; receivedAt: number; body?: Uint8Array | string; source?: string; eventType?: string | null; headers?: [string, string][]; paused?: string[] },
): Promise<string> {
  const rnd = () => crypto.getRandomValues(new Uint8Array(10));
  const id = makeId("evt", opts.receivedAt, rnd());
  const body = typeof opts.body === "string" ? new TextEncoder().encode(opts.body) : (opts.body ?? new TextEncoder().encode(`{"n":${seq++}}`));
  await store.writer.submit({
    id,
    source: opts.source ?? "src",
    eventType: opts.eventType === undefined ? "thing.happened" : opts.eventType,
    dedupeKey: id,
    dedupeWindowMs: 0,
    receivedAt: opts.receivedAt,
    method: "POST",
    path: "/in/src",
    query: "",
    headers: opts.headers ?? [["content-type", "application/json"]],
    body,
    contentType: "application/json",
    remoteAddr: "127.0.0.1",
    deliveries: opts.targets.map((t) => ({ id: makeId("dlv", opts.receivedAt, rnd()), target: t, status: opts.paused?.includes(t) ? "paused" : "pending" })),
  });
  return id;
}

/** A push target config with test-friendly defaults. */
export function targetConfig(name: string, url: string, over: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name,
    kind: "push",
    url,
    signingSecrets: [SECRET],
    token: null,
    timeoutMs: 2000,
    connectTimeoutMs: 1000,
    retry: { scheduleMs: [0, 5_000, 60_000], jitter: 0 },
    concurrency: 4,
    ratePerSec: null,
    ordered: false,
    disableAfterMs: 3 * 86_400_000,
    enabled: true,
    headers: [],
    auth: null,
    tls: null,
    format: "raw",
    ...over,
  };
}

/** One request as the recording target saw it. */
export interface Received {
  path: string;
  /** The query as received, "?…" or "". */
  query: string;
  headers: Headers;
  body: Uint8Array;
  at: number;
  /** performance.now() when the reply was sent (overlap checks). */
  doneAt: number;
}

export type Reply = { status: number; headers?: Record<string, string>; delayMs?: number; body?: string } | "hang";

/** A real HTTP target on 127.0.0.1:0 that records every request and answers from a script. */
export function recordingTarget(cleanups: (() => void | Promise<void>)[], script: (req: Received, n: number) => Reply = () => ({ status: 200 })) {
  const received: Received[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const rec: Received = { path: url.pathname, query: url.search, headers: req.headers, body: new Uint8Array(await req.arrayBuffer()), at: performance.now(), doneAt: 0 };
      received.push(rec);
      for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
      const reply = script(rec, received.length);
      if (reply === "hang") return new Promise<Response>(() => {});
      if (reply.delayMs) await Bun.sleep(reply.delayMs);
      rec.doneAt = performance.now();
      return new Response(reply.body ?? "ok", { status: reply.status, headers: reply.headers });
    },
  });
  cleanups.push(() => server.stop(true));
  /** Resolves once `n` requests have arrived (no polling, no sleeps). */
  const until = (n: number) =>
    received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { url: `http://127.0.0.1:${server.port}/hooks`, origin: `http://127.0.0.1:${server.port}`, received, server, until };
}

/** Runs cleanups in order, ignoring failures so every one runs. */
export async function runCleanups(cleanups: (() => void | Promise<void>)[]): Promise<void> {
  for (const c of cleanups.splice(0)) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}

/** Verifies a received request with the official library, its clock set to the (fake) time of the attempt. */
export function verify(rec: Received, secret = SECRET) {
  const h: Record<string, string> = {};
  rec.headers.forEach((v, k) => (h[k] = v));
  setSystemTime(new Date(Number(h["webhook-timestamp"]) * 1000));
  try {
    return new Webhook(secret).verify(Buffer.from(rec.body), h);
  } finally {
    setSystemTime();
  }
}
