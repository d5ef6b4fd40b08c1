/** `hookrelay serve`: run the relay until SIGTERM/SIGINT, then drain and exit 0. */
import { resolve } from "node:path";
import { readConfigFile, type LoadResult } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import { createLogger, stderrLine, type Logger } from "../log/logger.ts";
import { openStore } from "../store/index.ts";
import { parseFlags } from "./args.ts";
import { probeListenAddresses } from "./listen-address.ts";
import { DEFAULT_CONFIG_PATH, loadConfigOrReport } from "./load-config.ts";
import { startRelay } from "./start-relay.ts";
import { reloadOnSignal } from "./early-signals.ts";
import { notifySystemd } from "./systemd-notify.ts";

/** Runs until a signal; returns -1 (keep the process alive) or an exit code on failure to start. */
export async function runServe(args: string[]): Promise<number> {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" } });
  if (!parsed) return 2;
  const loaded = await loadConfigOrReport(parsed.values.config as string | undefined);
  if (!loaded) return 1;
  const log = createLogger(loaded.config.logLevel);
  // One msg for every warning, so that a log filter or alert can match it; the text says which key.
  for (const w of loaded.warnings) log.warn("config warning", { warning: w });
  // The same file, read and checked again on SIGHUP / POST /api/reload.
  const file = resolve((parsed.values.config as string | undefined) ?? DEFAULT_CONFIG_PATH);
  return serveConfig(loaded.config, log, {
    readConfig: () => readConfigFile(file, process.env),
    warnings: loaded.warnings,
    listenSettings: ["server.listen", "server.admin_listen"],
  });
}

/** How `serve` and `dev` differ around the same relay. */
export interface ServeOptions {
  /** Printed once the relay listens (dev's banner). */
  banner?: (urls: { publicUrl: string; adminUrl: string }) => void;
  /** Reads the config again on SIGHUP / POST /api/reload; `dev` has no file to reload. */
  readConfig?: () => LoadResult;
  /** The config's warnings, logged at start. */
  warnings?: readonly string[];
  /** What sets the public and the admin address, named when one is taken (a config key, or dev's flag). */
  listenSettings: [publicListen: string, adminListen: string];
}

/** Opens the store and listeners for a loaded config; shared by `serve` and `dev`. */
export async function serveConfig(config: Config, log: Logger, opts: ServeOptions): Promise<number> {
  // Before the store is opened: a second relay on taken ports must not touch (or create) its store.
  const taken = probeListenAddresses([
    { addr: config.server.listen, setting: opts.listenSettings[0] },
    { addr: config.server.adminListen, setting: opts.listenSettings[1] },
  ]);
  if (taken) {
    stderrLine("error", `hookrelay: ${taken}`);
    return 1;
  }
  let store;
  try {
    store = await openStore({
      url: config.store.url,
      password: config.store.password,
      log,
      busyTimeoutMs: config.store.busyTimeoutMs,
      nowMs: Date.now,
      // After a full disk, ready again once a largest request fits in the WAL and, at checkpoint, in the database file.
      roomBytes: 2 * config.server.maxBodyBytes + 1024 * 1024,
    });
  } catch (err) {
    stderrLine("error", `hookrelay: cannot open the store: ${(err as Error).message}`);
    return 1;
  }
  const relay = await startRelay({ config, store, log, readConfig: opts.readConfig, warnings: opts.warnings });
  if (!relay.ok) {
    stderrLine("error", `hookrelay: ${relay.error}`);
    await store.close();
    return 1;
  }
  opts.banner?.({ publicUrl: relay.publicUrl, adminUrl: relay.adminUrl });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second Ctrl-C (or TERM) is someone who will not wait: what is acked is already on disk,
      // and the leases of attempts cut short expire into new attempts (at-least-once), as after a crash.
      log.warn("second signal: stopping now, without finishing the drain", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("shutting down", { signal });
    try {
      notifySystemd("STOPPING=1");
    } catch {
      // Only a courtesy: systemd sees the process end either way.
    }
    await relay.stop();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  // Their default is to end the process on the spot, no drain, no word: a logrotate habit
  // (`kill -USR1` to reopen logs) would do that. The relay writes to stderr, nothing to reopen.
  for (const signal of ["SIGUSR1", "SIGUSR2"] as const) process.on(signal, () => log.warn("signal ignored", { signal }));
  // systemctl reload (ExecReload=/bin/kill -HUP $MAINPID): the outcome is logged by the reload itself.
  reloadOnSignal(() => {
    if (!stopping) relay.reload();
  });
  // Under systemd's Type=notify the unit is started from here: `systemctl start` waits for it,
  // and a reload waits for it too. Without NOTIFY_SOCKET (anywhere else) nothing is sent.
  try {
    notifySystemd("READY=1");
  } catch (err) {
    log.error("cannot tell systemd the relay is ready (Type=notify will stop it)", { error: String((err as Error).message) });
  }
  return -1;
}
