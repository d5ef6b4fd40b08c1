/**
 * Starts a relay on a loaded config and an open store: both listeners, the
 * delivery engine, and a stop() that drains in the order that loses nothing
 * (stop accepting → finish store writes → end in-flight attempts → close store).
 */
import { AlertWatch } from "../alerts/alert-watch.ts";
import { createApp } from "../app.ts";
import type { ReloadOutcome } from "../config/config-diff.ts";
import type { LoadResult } from "../config/load.ts";
import type { Config, ListenAddress } from "../config/types.ts";
import { createDeliveryEngine } from "../delivery/engine.ts";
import { startSearchIndexer } from "../ingest/search-indexer.ts";
import { createRelayMetrics } from "../metrics/relay-metrics.ts";
import type { Logger } from "../log/logger.ts";
import { openStoreReader, storeUrlForLog, type Store } from "../store/index.ts";
import { startOverviewJob } from "../store/overview.ts";
import { startRetentionRunner } from "../store/retention.ts";
import { createEventArchive } from "../store/event-archive.ts";
import { resolve } from "node:path";
import { listenProblem } from "./listen-address.ts";
import { BUILD, VERSION } from "./help.ts";
import { idleSecondsFor } from "../http/read-body.ts";
import { ALERT_SOURCE } from "../core/alert.ts";
import type { Server } from "bun";

export interface RunningRelay {
  ok: true;
  publicUrl: string;
  adminUrl: string;
  publicPort: number;
  adminPort: number;
  /** Re-reads the config file and applies it, or changes nothing (src/reload.ts). */
  reload(): ReloadOutcome;
  stop(): Promise<void>;
}

/** host:port as a URL writes it: an IPv6 address in brackets. */
const hostPort = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
const urlOf = (a: ListenAddress, port: number) => `http://${hostPort(a.host === "0.0.0.0" || a.host === "::" ? "127.0.0.1" : a.host, port)}`;

/** Listens on server.listen and server.admin_listen; an error value if either cannot be bound (a port is taken). */
export async function startRelay(opts: {
  config: Config;
  store: Store;
  log: Logger;
  /** Reads and checks the config file again, for reloads; without it a reload is refused. */
  readConfig?: () => LoadResult;
  /** The config's warnings, logged at start (a reload logs only new ones). */
  warnings?: readonly string[];
}): Promise<RunningRelay | { ok: false; error: string }> {
  const { config, store, log } = opts;
  const metrics = createRelayMetrics({ config, store, nowMs: Date.now, build: { version: VERSION, build: BUILD } });
  // Built whatever the config says, so that a reloaded config can turn alerts on (reconfigure).
  const alerts = new AlertWatch({ store, config, clock: Date.now, log, engine: () => delivery, counts: metrics });
  const delivery = createDeliveryEngine({
    config,
    store,
    log,
    onAttempt: (r) => {
      metrics.onAttempt(r);
      alerts.onAttempt(r);
    },
  });
  metrics.watchDelivery(delivery);
  const app = createApp({ config, store, log, delivery, metrics, readConfig: opts.readConfig, warnings: opts.warnings, reconfigure: [(c) => alerts.reconfigure(c)] });
  const { listen, adminListen, maxBodyBytes } = config.server;
  // reusePort off (Elysia turns it on): a port held by another process is an error, never shared.
  try {
    app.publicApp.listen({
      hostname: listen.host,
      port: listen.port,
      reusePort: false,
      // Bun's own cap (plus slack for headers); ours is checked while reading.
      maxRequestBodySize: maxBodyBytes + 64 * 1024,
      // Elysia's default (30 s) would close a slow body's socket before read_timeout's 408.
      idleTimeout: idleSecondsFor(config.server.readTimeoutMs),
    });
  } catch (err) {
    return { ok: false, error: listenProblem(listen, err) };
  }
  try {
    app.adminApp.listen({ hostname: adminListen.host, port: adminListen.port, reusePort: false });
  } catch (err) {
    await app.publicApp.stop(true).catch(() => {});
    return { ok: false, error: listenProblem(adminListen, err) };
  }
  // Before the alert watch's first check: a target the config disables has its queue paused by
  // then, not found stale (an imported store's deliveries to it were pending until this start).
  await app.delivery?.start();
  // Its own reader: the archive reads whole batches, on statements kept prepared (store/client.ts openReadConnection).
  const archiveReader = config.store.archiveDir ? await openStoreReader({ url: config.store.url, password: config.store.password, busyTimeoutMs: config.store.busyTimeoutMs }) : null;
  alerts.start();
  app.jobs.start();
  const current = () => app.live.current().config;
  const retention = startRetentionRunner({
    // Deletes go through the writer in small batches: purging never waits on our own writer.
    db: store,
    // Read at each run: a reload's retention and dedupe windows apply from the next purge.
    get retentionMs() {
      return current().store.retentionMs;
    },
    get dedupeWindowMs() {
      const c = current();
      return Object.fromEntries([
        ...c.sources.map((s) => [s.name, s.dedupeWindowMs] as const),
        // An alert is the original its repeats are debounced against (alert-sender.ts).
        ...(c.alerts ? [[ALERT_SOURCE, c.alerts.repeatAfterMs] as const] : []),
      ]);
    },
    nowMs: Date.now,
    log,
    archive: archiveReader ? createEventArchive({ dir: resolve(config.store.archiveDir!), reads: archiveReader.reads }) : undefined,
    inTurn: (job, run) => store.inTurn(job, run),
  });
  // Off the ack path: indexes what ingest committed, through the same writer ([store] search = false: none).
  const indexer = config.store.search ? startSearchIndexer({ store, log, maxDecodedBytes: maxBodyBytes }) : null;
  // Queue-depth samples and summed buckets for /overview, once a minute.
  const overview = startOverviewJob({ db: store, targets: () => app.live.current().config.targets.map((t) => t.name), nowMs: Date.now, log });
  const publicPort = app.publicApp.server!.port!;
  const adminPort = app.adminApp.server!.port!;
  const publicUrl = urlOf(listen, publicPort);
  const adminUrl = urlOf(adminListen, adminPort);
  const base = config.server.publicUrl ?? publicUrl;
  log.info("listening", {
    public: hostPort(listen.host, publicPort),
    admin: hostPort(adminListen.host, adminPort),
    // The web UI as a link a terminal makes clickable.
    ui: `${adminUrl}/`,
    sources: config.sources.map((s) => `${base.replace(/\/+$/, "")}/in/${s.name}`),
    // A libSQL server URL may carry credentials: log only its scheme and host.
    // The file as opened (a relative path resolved against the working directory), else the URL.
    store: store.filePath ?? storeUrlForLog(config.store.url),
    version: `${VERSION} (${BUILD})`,
  });
  return {
    ok: true,
    publicUrl,
    adminUrl,
    publicPort,
    adminPort,
    reload: () => app.reload(),
    async stop() {
      // Listen clients first: their open sockets would keep the public server from stopping.
      await app.listen.stop();
      // Stop accepting; requests already inside finish and get their answer.
      await stopListener(app.publicApp, LISTENER_GRACE_MS, log);
      // No request can be rejected or refused any more: write the last second's counts.
      app.ingestLogs.flush();
      // At a batch boundary, the job's lease given back: the next start resumes it.
      await app.jobs.stop();
      await retention.stop();
      await indexer?.stop();
      await overview.stop();
      archiveReader?.close();
      await store.writer.flushed();
      await app.delivery?.stop();
      // After the engine: the last attempts' delivery.failed alerts are stored before the store closes.
      await alerts.stop();
      app.streams.close();
      await app.adminApp.stop(true);
      await store.close();
    },
  };
}

/**
 * How long requests already inside get to finish at a stop. A verified
 * request commits in milliseconds; what is still open after this is a body
 * still arriving (a slow sender, up to read_timeout), never acknowledged.
 */
const LISTENER_GRACE_MS = 5_000;

/** Stops accepting; requests inside get `graceMs` to finish, then the connections still open are closed. */
async function stopListener(app: { server: Server<unknown> | null; stop(): Promise<unknown> }, graceMs: number, log: Logger): Promise<void> {
  const server = app.server;
  const stopped = app.stop();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([stopped.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
  clearTimeout(timer);
  if (!late || !server) return void (await stopped);
  log.info("closing requests still arriving at shutdown (none was acknowledged)", { requests: server.pendingRequests });
  await server.stop(true);
  await stopped;
}
