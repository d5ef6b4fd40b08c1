import { parseDurationMs } from "./units.ts";

/**
 * Every config default, in one place, in the units the user writes them in.
 * hookrelay.example.toml repeats these values; a test keeps the two in sync.
 */
export const DEFAULTS = {
  server: {
    /** Public side: inbound webhooks only. */
    listen: "0.0.0.0:8080",
    /** UI, admin API, /metrics, health. Loopback, so no admin token is needed by default. */
    admin_listen: "127.0.0.1:8081",
    max_body: "1mb",
    /** Whole-request read deadline, against slow-drip bodies. */
    read_timeout: "30s",
    /** Body bytes being read and stored at once across all inbound requests; past it, 503 + Retry-After. */
    max_inflight: "64mb",
  },
  store: {
    /** Relative file: paths resolve against the process's working directory (like the libSQL client), not the config file's directory. */
    url: "file:./data/hookrelay.db",
    retention: "14d",
    busy_timeout: "5s",
    /** Full-text index of bodies and header values, built in the background. */
    search: true,
  },
  log_level: "info",
  source: {
    /** Timestamped schemes reject requests older or newer than this. */
    tolerance: "5m",
    dedupe_window: "7d",
  },
  hmac: {
    algorithm: "sha256",
    encoding: "hex",
    prefix: "",
    signed: "{body}",
  },
  target: {
    kind: "push",
    timeout: "10s",
    connect_timeout: "5s",
    retry: {
      schedule: ["0s", "5s", "1m", "5m", "30m", "2h", "6h", "12h"],
      jitter: 0.2,
    },
    concurrency: 16,
    /** A target failing continuously this long is disabled (deliveries kept, paused). */
    disable_after: "3d",
    ordered: false,
    enabled: true,
    format: "raw",
  },
  alerts: {
    /** queue.stale: a target's oldest pending delivery is older than this. */
    stale_after: "15m",
    /** The same alert (kind + subject) at most once per this. */
    repeat_after: "1h",
  },
} as const;

/** A built-in default duration in ms (DEFAULTS holds them as written in TOML). */
export function defaultMs(duration: string): number {
  const result = parseDurationMs(duration);
  if (!result.ok) throw new Error(`invalid built-in default duration ${duration}`);
  return result.value;
}
