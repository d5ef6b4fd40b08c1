/**
 * Reloading the config without a restart (SIGHUP, `systemctl reload`,
 * POST /api/reload). The file is read and checked exactly as `hookrelay
 * check` does; an invalid one changes nothing. A valid one is compiled into
 * a new runtime config (ingest/runtime-config.ts) and handed to every part
 * that holds config state of its own (the delivery engine's targets, the
 * admin token, metrics), then put in force with one assignment. All of it
 * runs synchronously, in one turn of the event loop: no request, round or
 * claim runs in between to see the engine on one config and ingest on
 * another. Requests already inside keep the config they started with;
 * attempts in flight finish on their target as it was.
 */
import { diffConfig, keepRunning, type ReloadOutcome } from "./config/config-diff.ts";
import type { LoadResult } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { compileRuntimeConfig, type LiveConfig } from "./ingest/runtime-config.ts";
import type { Logger } from "./log/logger.ts";

export interface ReloadDeps {
  live: LiveConfig;
  /** Reads and checks the config file (readConfigFile, as `hookrelay check`). */
  read: () => LoadResult;
  /** Parts that keep state built from config take the applied one here, before it is in force. */
  apply: ((config: Config) => void)[];
  metrics: { configReload(ok: boolean): void };
  log: Logger;
  /** Warnings already logged (at start, by an earlier reload): a reload logs only those new since. */
  warned?: Set<string>;
}

/** Reads, checks and applies the config file once; see the file comment. */
export function reloadConfig(deps: ReloadDeps): ReloadOutcome {
  const loaded = deps.read();
  if (!loaded.ok) {
    deps.metrics.configReload(false);
    deps.log.error("config reload failed", { problems: loaded.problems, running: "unchanged" });
    return { ok: false, problems: loaded.problems };
  }
  const running = deps.live.current().config;
  // A file read while an editor or `cp` was writing it parses as an empty (or cut) config: applied,
  // every source would answer 404 until the next reload. Taking every source away is refused.
  if (loaded.config.sources.length === 0 && running.sources.length > 0) {
    const problems = [
      `sources: the new config has none, and the running one has ${running.sources.length}: refused (a file read while being written looks so; write the new file beside the old one and rename it over it). To stop receiving, stop the relay`,
    ];
    deps.metrics.configReload(false);
    deps.log.error("config reload failed", { problems, running: "unchanged" });
    return { ok: false, problems };
  }
  const changes = diffConfig(running, loaded.config);
  // Keys bound at start keep their running value until a restart.
  const applied = keepRunning(running, loaded.config);
  const next = compileRuntimeConfig(applied);
  for (const take of deps.apply) take(applied);
  deps.live.replace(next);
  deps.metrics.configReload(true);
  // Each said once: a config with a standing warning reloaded every hour is not a warning an hour.
  for (const w of loaded.warnings) if (!deps.warned?.has(w)) deps.log.warn("config warning", { warning: w });
  if (deps.warned) {
    deps.warned.clear();
    for (const w of loaded.warnings) deps.warned.add(w);
  }
  deps.log.info("config reloaded", { ...changes });
  if (changes.restartNeeded.length > 0) deps.log.warn("config reloaded, but these keys need a restart to apply", { keys: changes.restartNeeded });
  return { ok: true, changes, warnings: loaded.warnings };
}
