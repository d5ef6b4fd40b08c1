/**
 * Starts a relay on a loaded config and an open store: both listeners, the
 * delivery engine, and a stop() that drains in the order that loses nothing
 * (stop accepting → finish store writes → end in-flight attempts → close store).
 */
import { createApp } from "../app.ts";
import type { Config, ListenAddress } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";

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

/** Listens on server.listen and server.admin_listen; an error value if a port is taken. */
export async function startRelay(opts: { config: Config; store: Store; log: Logger }): Promise<RunningRelay | { ok: false; error: string }> {
  const { config, store, log } = opts;
  const app = createApp({ config, store, log });
  const { listen, adminListen, maxBodyBytes } = config.server;
  try {
    app.publicApp.listen({
      hostname: listen.host,
      port: listen.port,
      // Bun's own cap (plus slack for headers); ours is checked while reading.
      maxRequestBodySize: maxBodyBytes + 64 * 1024,
    });
    app.adminApp.listen({ hostname: adminListen.host, port: adminListen.port });
  } catch (err) {
    await app.publicApp.stop().catch(() => {});
    return { ok: false, error: `cannot listen: ${(err as Error).message}` };
  }
  app.delivery?.start();
  const publicPort = app.publicApp.server!.port!;
  const adminPort = app.adminApp.server!.port!;
  const publicUrl = urlOf(listen, publicPort);
  const adminUrl = urlOf(adminListen, adminPort);
  const base = config.server.publicUrl ?? publicUrl;
  log.info("listening", {
    public: `${listen.host}:${publicPort}`,
    admin: `${adminListen.host}:${adminPort}`,
    sources: config.sources.map((s) => `${base.replace(/\/+$/, "")}/in/${s.name}`),
    store: config.store.url,
  });
  return {
    ok: true,
    publicUrl,
    adminUrl,
    publicPort,
    adminPort,
    async stop() {
      // Stop accepting; requests already inside finish and get their answer.
      await app.publicApp.stop();
      await store.writer.flushed();
      await app.delivery?.stop();
      await app.adminApp.stop(true);
      await store.close();
    },
  };
}
