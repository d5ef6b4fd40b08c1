/**
 * hookrelay's metrics (SPEC.md "Admin side" → /metrics). Counters move from
 * the ingest hooks and the delivery engine's onAttempt; queue depth, oldest
 * pending age and store size are read from the store at scrape time, so they
 * are right even with several processes on one store.
 */
import type { Config } from "../config/types.ts";
import type { Store } from "../store/index.ts";
import { queueStats, type QueueStat } from "../store/queue-stats.ts";
import { storeSizeBytes } from "../store/store-size.ts";
import { readTargetStates } from "../store/target-state.ts";
import { targetCondition, type TargetCondition } from "../core/alert.ts";
import { Registry, type Sample } from "./registry.ts";

/** The delivery status an attempt left behind, as the delivery engine reports it. */
export type AttemptStatus = "delivered" | "pending" | "failed" | "paused" | (string & {});

// "pending" after an attempt means a retry is scheduled: name it for what it means.
const OUTCOME: Record<string, string> = { delivered: "delivered", pending: "retrying", failed: "failed", paused: "paused" };

/** hookrelay_target_state's states (core/alert.ts targetCondition). */
const TARGET_STATES: TargetCondition[] = ["ok", "circuit_open", "disabled", "off"];

/** The refusals a relay answers most, given zero series so that a rate over them starts at 0. */
const REFUSAL_CODES = ["unknown_source", "body_too_large", "read_timeout", "server_busy", "store_unavailable"];

const LATENCY_BUCKETS_SEC = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RelayMetrics {
  registry: Registry;
  received(source: string): void;
  rejected(source: string, reason: string): void;
  /** A request refused before verification, or not stored, by its error code. */
  refused(code: string): void;
  duplicate(source: string): void;
  /** One finished attempt: its target, the delivery status it left, and how long it took. */
  recordAttempt(target: string, status: AttemptStatus, durationMs: number): void;
  /** Adapter for the delivery engine's `onAttempt` hook. */
  onAttempt(report: { target: string; status: AttemptStatus; durationMs: number }): void;
  /** An alert condition found (raised), stored for the alert targets (sent), or not sent and why (suppressed). */
  alert(kind: string, outcome: "raised" | "sent" | "suppressed", reason?: string): void;
  /** Gauges of this process's delivery engine: attempts in flight, and whether they yield to ingest. */
  watchDelivery(engine: { inFlight(): number; yielding(): boolean }): void;
  /** A config reload: applied (ok) or refused as invalid. */
  configReload(ok: boolean): void;
  /** A reloaded config: zero series for its new sources and targets, and its targets for the queue gauges. */
  reconfigure(config: Config): void;
  /** The exposition text. */
  render(): Promise<string>;
}

/** Creates the registry for one process, seeded with zero series for every configured source and target. */
export function createRelayMetrics(opts: {
  config: Config;
  store: Store;
  nowMs: () => number;
  /** What hookrelay_build_info names: the version and the build (cli/help.ts). */
  build?: { version: string; build: string };
}): RelayMetrics {
  const { store, nowMs } = opts;
  let config = opts.config;
  const registry = new Registry();
  const received = registry.counter("hookrelay_received_total", "Requests accepted and stored, by source.", ["source"]);
  const rejected = registry.counter("hookrelay_rejected_total", "Requests refused by verification, by source and reason.", ["source", "reason"]);
  const refused = registry.counter(
    "hookrelay_refused_total",
    "Requests refused before verification or not stored, by error code (unknown_source, body_too_large, read_timeout, server_busy, store_unavailable…).",
    ["code"],
  );
  for (const code of REFUSAL_CODES) refused.inc({ code }, 0);
  const duplicates = registry.counter("hookrelay_duplicates_total", "Requests acknowledged as duplicates of a stored event.", ["source"]);
  const deliveries = registry.counter(
    "hookrelay_deliveries_total",
    "Delivery attempts by target and outcome (delivered, retrying, failed = gave up, paused = target gone or disabled by the failure).",
    ["target", "outcome"],
  );
  const latency = registry.histogram("hookrelay_attempt_duration_seconds", "Delivery attempt duration.", ["target"], LATENCY_BUCKETS_SEC);
  const alerts = {
    raised: registry.counter("hookrelay_alerts_raised_total", "Alert conditions found by this process, by kind.", ["kind"]),
    sent: registry.counter("hookrelay_alerts_sent_total", "Alerts stored as events of the source hookrelay for the alert targets, by kind.", ["kind"]),
    suppressed: registry.counter(
      "hookrelay_alerts_suppressed_total",
      "Alerts not sent, by kind and reason (repeat_after, about_alert_target, store_unwritable, outbox_full).",
      ["kind", "reason"],
    ),
  };
  const reloads = registry.counter("hookrelay_config_reloads_total", "Config reloads applied (SIGHUP, systemctl reload, POST /api/reload).", []);
  const reloadFailures = registry.counter("hookrelay_config_reload_failures_total", "Config reloads refused because the file was invalid (nothing changed).", []);
  reloads.inc({}, 0);
  reloadFailures.inc({}, 0);
  // Zero series from the start, so rate() and absent-series alerts work before the first event.
  const seed = (c: Config) => {
    for (const s of c.sources) {
      received.inc({ source: s.name }, 0);
      duplicates.inc({ source: s.name }, 0);
    }
    for (const t of c.targets) for (const outcome of ["delivered", "failed"]) deliveries.inc({ target: t.name, outcome }, 0);
  };
  seed(config);

  // Both queue gauges read one query per scrape: render() takes it once for both.
  let scrape: Promise<QueueStat[]> | null = null;
  const readQueue = () => scrape ?? queueStats(store.reads);
  const perTarget = async (value: (q: { depth: number; oldestCreatedAt: number } | undefined) => number): Promise<Sample[]> => {
    const stats = new Map((await readQueue()).map((q) => [q.target, q]));
    const names = new Set([...config.targets.map((t) => t.name), ...stats.keys()]);
    return [...names].map((target) => ({ labels: { target }, value: value(stats.get(target)) }));
  };
  const build = opts.build;
  if (build) registry.gauge("hookrelay_build_info", "1, labelled with the running version and build (the commit it was built from).", () => [{ labels: build, value: 1 }]);
  registry.gauge("hookrelay_queue_depth", "Deliveries pending, delivering or paused, by target.", () => perTarget((q) => q?.depth ?? 0));
  registry.gauge("hookrelay_oldest_pending_age_seconds", "Age of the oldest open delivery, by target (0 when none).", () =>
    perTarget((q) => (q ? Math.max(0, (nowMs() - q.oldestCreatedAt) / 1000) : 0)),
  );
  // A state set: one series per state, 1 for the one the target is in (core/alert.ts targetCondition).
  registry.gauge("hookrelay_target_state", "1 for the state each target is in: ok, circuit_open, disabled (a 410 or disable_after), off (an operator).", async () => {
    const states = await readTargetStates(store.reads);
    return config.targets.flatMap((t) => {
      const now = targetCondition(states.get(t.name));
      return TARGET_STATES.map((state) => ({ labels: { target: t.name, state }, value: state === now ? 1 : 0 }));
    });
  });
  // The standard process metrics (Prometheus client libraries' names): memory is what a relay's
  // operator watches after a burst (docs/OPERATIONS.md "Memory"), and a restart shows in the start time.
  const startedSec = Math.round((Date.now() - performance.now()) / 1000);
  registry.gauge("process_resident_memory_bytes", "Resident memory of the relay process.", () => [{ labels: {}, value: process.memoryUsage.rss() }]);
  registry.gauge("process_start_time_seconds", "When the relay process started, in seconds since the epoch.", () => [{ labels: {}, value: startedSec }]);
  registry.counterOf("process_cpu_seconds_total", "CPU time the relay process has used (user and system).", () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  // What /readyz says of the store, for a dashboard: 0 while a commit cannot go through (full, read-only, locked, away).
  registry.gauge("hookrelay_store_writable", "1 while the store takes commits, 0 while it cannot (full, read-only, locked, unreachable): ingest answers 503 then.", async () => [
    { labels: {}, value: (await store.unwritableReason()) === null ? 1 : 0 },
  ]);
  registry.gauge("hookrelay_store_size_bytes", "Size of the store: the embedded file plus its WAL, or the PostgreSQL database.", async () => {
    const bytes = await storeSizeBytes(store);
    return bytes === null ? [] : [{ labels: {}, value: bytes }];
  });

  const recordAttempt = (target: string, status: AttemptStatus, durationMs: number) => {
    deliveries.inc({ target, outcome: OUTCOME[status] ?? status });
    latency.observe({ target }, durationMs / 1000);
  };
  return {
    registry,
    received: (source) => received.inc({ source }),
    rejected: (source, reason) => rejected.inc({ source, reason }),
    refused: (code) => refused.inc({ code }),
    duplicate: (source) => duplicates.inc({ source }),
    alert: (kind, outcome, reason) => (outcome === "suppressed" ? alerts.suppressed.inc({ kind, reason: reason ?? "" }) : alerts[outcome].inc({ kind })),
    recordAttempt,
    onAttempt: (r) => recordAttempt(r.target, r.status, r.durationMs),
    watchDelivery(engine) {
      registry.gauge("hookrelay_deliveries_in_flight", "Delivery attempts this process has in flight.", () => [{ labels: {}, value: engine.inFlight() }]);
      registry.gauge(
        "hookrelay_delivery_yielding",
        "1 while deliveries are held back because providers queue for their ack (ingest first), else 0.",
        () => [{ labels: {}, value: engine.yielding() ? 1 : 0 }],
      );
    },
    configReload: (ok) => (ok ? reloads : reloadFailures).inc({}),
    reconfigure(next) {
      config = next;
      seed(next);
    },
    async render() {
      scrape = queueStats(store.reads);
      try {
        return await registry.render();
      } finally {
        scrape = null;
      }
    },
  };
}
