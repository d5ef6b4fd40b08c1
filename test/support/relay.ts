/**
 * Test harness: a relay built from TOML text on a fresh SQLite file in a temp
 * dir, with its apps callable in memory (`app.publicApp.handle(req)`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type App, type DeliveryEngine } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createDeliveryEngine } from "../../src/delivery/engine.ts";
import type { JobPacing } from "../../src/jobs/runner.ts";
import type { Config } from "../../src/config/types.ts";
import { silentLogger, type Logger } from "../../src/log/logger.ts";
import { createRelayMetrics } from "../../src/metrics/relay-metrics.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { freshStoreUrl } from "./test-store.ts";

export interface TestRelay {
  dir: string;
  config: Config;
  store: Store;
  app: App;
  /** POST raw bytes to /in/<source> in memory. */
  post(source: string, body: string | Uint8Array, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** Makes a temp dir that is removed by the returned function. */
export function tempDir(prefix = "hookrelay-test-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Loads TOML (store.url is forced into a temp dir) and builds the app. */
export async function startTestRelay(
  toml: string,
  opts: {
    env?: Record<string, string>;
    nowMs?: () => number;
    delivery?: DeliveryEngine;
    /** Build and start the production delivery engine on the relay's store (listen targets need it). */
    engine?: {
      pollMs?: number;
      leaseMs?: number;
      /**
       * False: the app never wakes the engine (after ingest's commits, actions); rounds run at the
       * start, the poll and finished attempts only. For a test of what ingest itself wrote, which a
       * round woken by the commit would otherwise lease ahead before the test reads it.
       */
      woken?: boolean;
    };
    busyTimeoutMs?: number;
    /** Start the bulk-job runner with this pacing (jobs run only when given). */
    jobs?: JobPacing;
    /** The app's logger (default: silent). */
    log?: Logger;
  } = {},
): Promise<TestRelay> {
  const tmp = tempDir();
  const loaded = loadConfig(toml, { env: opts.env ?? {}, baseDir: tmp.dir });
  if (!loaded.ok) throw new Error(`test config invalid:\n${loaded.problems.join("\n")}`);
  const config = loaded.config;
  const fresh = await freshStoreUrl(tmp.dir, "relay.db");
  config.store.url = fresh.url;
  const nowMs = opts.nowMs ?? Date.now;
  const store = await openStore({ url: config.store.url, busyTimeoutMs: opts.busyTimeoutMs ?? 1000, nowMs, checkpointEveryMs: 0 });
  const metrics = createRelayMetrics({ config, store, nowMs });
  const engine = opts.engine ? createDeliveryEngine({ config, store, log: silentLogger, pollMs: opts.engine.pollMs, leaseMs: opts.engine.leaseMs, onAttempt: metrics.onAttempt }) : null;
  const unwoken = engine && opts.engine?.woken === false ? { ...engine, wake: () => {} } : engine;
  const app = createApp({ config, store, log: opts.log ?? silentLogger, nowMs, delivery: opts.delivery ?? unwoken ?? undefined, metrics, jobPacing: opts.jobs });
  await engine?.start();
  if (opts.jobs) app.jobs.start();
  return {
    dir: tmp.dir,
    config,
    store,
    app,
    post: (source, body, headers = {}) =>
      app.publicApp.handle(
        new Request(`http://127.0.0.1/in/${source}`, { method: "POST", body: body as BodyInit, headers: { "content-type": "application/json", ...headers } }),
      ),
    async close() {
      await app.listen.stop();
      await app.jobs.stop();
      await engine?.stop(1000);
      await store.close();
      await fresh.drop();
      tmp.remove();
    },
  };
}

/** Rows of a raw SQL query, for assertions. */
export async function rows(store: Store, sql: string, args: (string | number)[] = []) {
  return (await store.reads.execute({ sql, args })).rows;
}
