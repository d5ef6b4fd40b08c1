/**
 * Starts a relay on a loaded config and an open store: both listeners, the
 * delivery engine, and a stop() that drains in the order that loses nothing
 * (stop accepting → finish store writes → end in-flight attempts → close store).
 */
import { createApp } from "../app.ts";
import type { Config, ListenAddress } from "../config/types.ts";
import { createDeliveryEngine } from "../delivery/engine.ts";
import { createRelayMetrics } from "../metrics/relay-metrics.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import { startRetentionRunner } from "../store/retention.ts";
import { listenProblem } from "./listen-address.ts";

export interface RunningRelay {
  ok: true;
  publicUrl: string;
  adminUrl: string;
  publicPort: number;
  adminPort: number;
  stop(): Promise<void>;
}

const urlOf = (a: ListenAddress, port: number) =>
  `http://${a.host === "0.0.0.0" || a.host === "::" ? "127.0.0.1" : a.host.includes(":") ? `[${a.host}]` : a.host}:${port}`;

/** Listens on server.listen and server.admin_listen; an error value if either cannot be bound (a port is taken). */
export async function startRelay(opts: { config: Config; store: Store; log: Logger }): Promise<RunningRelay | { ok: false; error: string }> {
  const { config, store, log } = opts;
  const metrics = createRelayMetrics({ config, store, nowMs: Date.now });
  const delivery = createDeliveryEngine({ config, store, log, onAttempt: metrics.onAttempt });
  metrics.watchDelivery(delivery);
  const app = createApp({ config, store, log, delivery, metrics });
  const { listen, adminListen, maxBodyBytes } = config.server;
  // reusePort off (Elysia turns it on): a port held by another process is an error, never shared.
  try {
    app.publicApp.listen({
      hostname: listen.host,
      port: listen.port,
      reusePort: false,
      // Bun's own cap (plus slack for headers); ours is checked while reading.
      maxRequestBodySize: maxBodyBytes + 64 * 1024,
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
  app.delivery?.start();
  app.jobs.start();
  const retention = startRetentionRunner({
    // Deletes go through the writer in small batches: purging never waits on our own writer.
    db: store,
    retentionMs: config.store.retentionMs,
    dedupeWindowMs: Object.fromEntries(config.sources.map((s) => [s.name, s.dedupeWindowMs])),
    nowMs: Date.now,
    log,
  });
  const publicPort = app.publicApp.server!.port!;
  const adminPort = app.adminApp.server!.port!;
  const publicUrl = urlOf(listen, publicPort);
  const adminUrl = urlOf(adminListen, adminPort);
  const base = config.server.publicUrl ?? publicUrl;
  log.info("listening", {
    public: `${listen.host}:${publicPort}`,
    admin: `${adminListen.host}:${adminPort}`,
    sources: config.sources.map((s) => `${base.replace(/\/+$/, "")}/in/${s.name}`),
    // A libSQL server URL may carry credentials: log only its scheme and host.
    store: redactStoreUrl(config.store.url),
  });
  return {
    ok: true,
    publicUrl,
    adminUrl,
    publicPort,
    adminPort,
    async stop() {
      // Listen clients first: their open sockets would keep the public server from stopping.
      await app.listen.stop();
      // Stop accepting; requests already inside finish and get their answer.
      await app.publicApp.stop();
      // No request can be rejected any more: write the last second's counts.
      app.rejectionLog.flush();
      // At a batch boundary, the job's lease given back: the next start resumes it.
      await app.jobs.stop();
      await retention.stop();
      await store.writer.flushed();
      await app.delivery?.stop();
      await app.adminApp.stop(true);
      await store.close();
    },
  };
}

/** The store URL without userinfo or query (where a libSQL authToken may sit). */
function redactStoreUrl(url: string): string {
  if (url.startsWith("file:") || url.includes(":memory:")) return url.split("?")[0]!;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(unparseable url)";
  }
}
