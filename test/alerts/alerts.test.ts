/**
 * Alerts in process: a real SQLite store with the real migrations, the real
 * delivery scheduler on a fake clock, real recording targets on 127.0.0.1,
 * the official `standardwebhooks` library as the oracle for the alert's
 * signature (fixtures.ts verify), and the alert watcher driven by check() instead of its timer.
 */
import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { AlertWatch } from "../../src/alerts/alert-watch.ts";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { Config } from "../../src/config/types.ts";
import { createScheduler, type Scheduler } from "../../src/delivery/scheduler.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createRelayMetrics, type RelayMetrics } from "../../src/metrics/relay-metrics.ts";
import type { Store } from "../../src/store/index.ts";
import { disableTarget } from "../../src/store/target-state.ts";
import { fakeClock, recordingTarget, runCleanups, SECRET, storeAt, submitEvent, tempDir, verify, type Received, type Reply } from "../delivery/fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const PROVIDER_SECRET = "provider-secret";
const MIN = 60_000;

interface TargetSpec {
  name: string;
  script?: (req: Received, n: number) => Reply;
  schedule?: string[];
  format?: "slack";
}

/** The config for `targets` (their URLs: recording targets made here) with `[alerts]` from `alerts`. */
function configFor(targets: { name: string; url: string; schedule?: string[]; format?: string }[], alerts: string): Config {
  const toml = [
    "[[sources]]",
    'name = "p"',
    `verify = { preset = "ploints", secret = "${PROVIDER_SECRET}" }`,
    ...targets.flatMap((t) => [
      "[[targets]]",
      `name = "${t.name}"`,
      `url = "${t.url}"`,
      `signing = { secret = "${SECRET}" }`,
      `retry = { schedule = [${(t.schedule ?? ["0s", "1h"]).map((d) => `"${d}"`).join(", ")}], jitter = 0 }`,
      ...(t.format ? [`format = "${t.format}"`] : []),
    ]),
    "[[routes]]",
    'from = "p"',
    `to = ["${targets[0]!.name}"]`, // events posted in memory go to the first target (submitEvent picks its own)
    "[alerts]",
    alerts,
  ].join("\n");
  const loaded = loadConfig(toml, { env: {}, baseDir: "." });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  return loaded.config;
}

interface Relay {
  store: Store;
  scheduler: Scheduler;
  watch: AlertWatch;
  metrics: RelayMetrics;
  /** One check, then every delivery it made (and its alerts' deliveries) run to the end. */
  settle(): Promise<void>;
}

/** A relay's engine and alert watcher on `file` (a second call on the same file is a second relay). */
async function relayOn(file: string, config: Config, clock: ReturnType<typeof fakeClock>): Promise<Relay> {
  const store = await storeAt(file, cleanups, clock);
  const metrics = createRelayMetrics({ config, store, nowMs: clock });
  let watch: AlertWatch;
  const scheduler = createScheduler({
    store,
    targets: config.targets,
    clock,
    random: () => 0.5,
    pollMs: 60 * MIN,
    circuit: { threshold: 3, baseMs: 10_000, maxMs: 60_000 },
    onAttempt: (r) => watch.onAttempt(r),
  });
  cleanups.unshift(() => scheduler.stop(100));
  watch = new AlertWatch({ store, config, clock, log: silentLogger, engine: () => scheduler, counts: metrics });
  cleanups.unshift(() => watch.stop());
  const settle = async () => {
    await scheduler.drain();
    await watch.settled();
    await watch.check();
    await scheduler.drain();
  };
  return { store, scheduler, watch, metrics, settle };
}

async function setup(targets: TargetSpec[], alerts: string) {
  const clock = fakeClock();
  const recorders = new Map(targets.map((t) => [t.name, recordingTarget(cleanups, t.script)]));
  const config = configFor(targets.map((t) => ({ ...t, url: recorders.get(t.name)!.url })), alerts);
  const file = join(tempDir(cleanups), "alerts.db");
  const relay = await relayOn(file, config, clock);
  return { clock, config, file, ...relay, target: (name: string) => recorders.get(name)! };
}

type AlertJson = { type: string; subject: string; message: string; at: string; resolved: boolean; details: Record<string, unknown> };
const alertsOf = (received: Received[]) => received.map((r) => JSON.parse(new TextDecoder().decode(r.body)) as AlertJson);

const metric = (m: RelayMetrics, line: string) => m.render().then((text) => text.split("\n").find((l) => l.startsWith(line)));
const value = async (m: RelayMetrics, series: string) => Number((await metric(m, `${series} `))?.split(" ")[1] ?? 0);

test("a target that answers 410 produces one signed target.disabled alert, and target.recovered once it is enabled", async () => {
  let gone = true;
  const r = await setup([{ name: "orders", script: () => ({ status: gone ? 410 : 200 }) }, { name: "ops" }], 'to = ["ops"]');
  const eventId = await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const ops = r.target("ops");
  expect(alertsOf(ops.received)).toEqual([
    {
      type: "target.disabled",
      subject: "orders",
      message: "target orders was disabled: HTTP 410 Gone: target disabled; its deliveries wait, paused, until it is enabled",
      at: new Date(r.clock()).toISOString(),
      resolved: false,
      details: expect.objectContaining({ target: "orders", disabledBy: "gone", reason: "HTTP 410 Gone: target disabled" }),
    },
  ]);
  const rec = ops.received[0]!;
  expect(() => verify(rec)).not.toThrow();
  expect(rec.headers.get("hookrelay-source")).toBe("hookrelay");
  expect(rec.headers.get("hookrelay-event-type")).toBe("target.disabled");
  // Stored like any event: source hookrelay, delivered to ops.
  const stored = await r.store.reads.execute("SELECT e.id, e.source, e.event_type, d.target, d.status FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.id <> ?", [eventId]);
  expect(stored.rows.map((x) => [x.source, x.event_type, x.target, x.status])).toEqual([["hookrelay", "target.disabled", "ops", "delivered"]]);
  expect(rec.headers.get("webhook-id")).toBe(String(stored.rows[0]!.id));

  gone = false;
  r.clock.advance(MIN);
  await r.scheduler.enableTarget("orders");
  await r.settle();
  expect(alertsOf(ops.received).map((a) => [a.type, a.subject, a.resolved, a.details.cleared])).toEqual([
    ["target.disabled", "orders", false, undefined],
    ["target.recovered", "orders", true, "target.disabled"],
  ]);
  expect(() => verify(ops.received[1]!)).not.toThrow();
  expect(r.target("orders").received).toHaveLength(2); // the paused delivery went out after enable
  expect(await metric(r.metrics, 'hookrelay_alerts_sent_total{kind="target.disabled"}')).toBe('hookrelay_alerts_sent_total{kind="target.disabled"} 1');
});

test("a circuit that opens is alerted, and its close after a successful probe is a target.recovered", async () => {
  let failing = true;
  const r = await setup([{ name: "orders", script: () => ({ status: failing ? 500 : 200 }), schedule: ["0s", "1h"] }, { name: "ops" }], 'to = ["ops"]');
  for (let i = 0; i < 3; i++) await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const ops = r.target("ops");
  expect(alertsOf(ops.received).map((a) => [a.type, a.subject, a.resolved])).toEqual([["target.circuit_open", "orders", false]]);
  expect(alertsOf(ops.received)[0]!.message).toContain("circuit open after 3 failures in a row (last error: HTTP 500)");

  // The probe after the open time fails: still open, nothing new.
  r.clock.advance(11_000);
  await r.settle();
  expect(ops.received).toHaveLength(1);
  failing = false;
  r.clock.advance(61 * MIN);
  await r.settle();
  expect(alertsOf(ops.received).map((a) => [a.type, a.resolved, a.details.cleared])).toEqual([
    ["target.circuit_open", false, undefined],
    ["target.recovered", true, "target.circuit_open"],
  ]);
});

test("an operator disabling a target whose circuit is open closes the alert; enabling it later sends nothing", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 500 }), schedule: ["0s", "1h"] }, { name: "ops" }], 'to = ["ops"]');
  for (let i = 0; i < 3; i++) await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const ops = r.target("ops");
  expect(alertsOf(ops.received).map((a) => a.type)).toEqual(["target.circuit_open"]);
  // Each step a second later: the store tells the last word on a condition by its alerts' ids, made of their times.
  r.clock.advance(1000);
  await r.scheduler.disableTarget("orders", "looking into it");
  await r.settle();
  const [, closed] = alertsOf(ops.received);
  expect(closed).toMatchObject({ type: "target.recovered", subject: "orders", resolved: true, details: { cleared: "target.circuit_open", disabledBy: "api" } });
  expect(closed!.message).toBe("target orders was disabled by an operator (api): its circuit open alert is closed; its deliveries wait, paused, until it is enabled");
  r.clock.advance(1000);
  await r.scheduler.enableTarget("orders");
  await r.settle();
  // No recovery notice for an alert already closed (a delivery still failing may say so on its own).
  expect(alertsOf(ops.received).filter((a) => a.type.startsWith("target.")).map((a) => a.type)).toEqual(["target.circuit_open", "target.recovered"]);
  // Its probe failed: the circuit is open again, a new episode after the close, alerted at the next check (not after repeat_after).
  r.clock.advance(1000);
  await r.settle();
  expect(alertsOf(ops.received).filter((a) => a.type.startsWith("target.")).map((a) => a.type)).toEqual(["target.circuit_open", "target.recovered", "target.circuit_open"]);
  // A relay started on this store (a restart) finds the open circuit once, not again at every check.
  r.clock.advance(1000);
  const again = await relayOn(r.file, r.config, r.clock);
  for (let i = 0; i < 3; i++) await again.watch.check();
  expect(await value(again.metrics, 'hookrelay_alerts_raised_total{kind="target.circuit_open"}')).toBe(1);
  expect(alertsOf(ops.received).filter((a) => a.type === "target.circuit_open")).toHaveLength(2);
});

test("a delivery that reaches failed after its last attempt is a delivery.failed alert", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 500 }), schedule: ["0s"] }, { name: "ops" }], 'to = ["ops"]');
  const eventId = await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const [alert] = alertsOf(r.target("ops").received);
  expect(alert).toMatchObject({ type: "delivery.failed", subject: "orders", resolved: false });
  expect(alert!.details).toMatchObject({ target: "orders", eventId, source: "src", attempts: 1, statusCode: 500, error: "HTTP 500" });
  expect(alert!.message).toContain(`of event ${eventId} (source src) to orders failed after 1 attempt: HTTP 500`);
});

test("failed deliveries held back by repeat_after are said with the next delivery.failed alert sent: how many, since when", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 500 }), schedule: ["0s"] }, { name: "ops" }], 'to = ["ops"]\nrepeat_after = "1h"');
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const heldSince = r.clock();
  for (let i = 0; i < 3; i++) {
    r.clock.advance(60_000);
    await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
    await r.settle();
  }
  // (The target's circuit opens on the way: only the delivery.failed alerts count here.)
  const failedAlerts = () => alertsOf(r.target("ops").received).filter((a) => a.type === "delivery.failed");
  expect(failedAlerts()).toHaveLength(1); // three held back
  r.clock.advance(60 * MIN);
  const last = await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const alerts = failedAlerts();
  expect(alerts).toHaveLength(2);
  expect(alerts[1]!.details).toMatchObject({ eventId: last, heldBack: 3, heldBackSince: new Date(heldSince + 60_000).toISOString() });
  expect(alerts[1]!.message).toContain(`(and 3 more like it since ${new Date(heldSince + 60_000).toISOString()} not alerted (repeat_after))`);
});

test("a queue whose oldest waiting delivery passes stale_after is a queue.stale alert, resolved once it drains", async () => {
  let failing = true;
  const r = await setup(
    [{ name: "orders", script: () => ({ status: failing ? 503 : 200 }), schedule: ["0s", "1h"] }, { name: "ops" }],
    'to = ["ops"]\non = ["queue.stale"]\nstale_after = "2m"',
  );
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  r.clock.advance(MIN);
  await r.settle();
  expect(r.target("ops").received).toHaveLength(0);
  r.clock.advance(2 * MIN);
  await r.settle();
  expect(alertsOf(r.target("ops").received).map((a) => [a.type, a.subject, a.resolved, a.message])).toEqual([
    ["queue.stale", "orders", false, "oldest pending delivery to orders is 3m old (stale_after 2m)"],
  ]);
  failing = false;
  r.clock.advance(60 * MIN);
  await r.settle();
  expect(alertsOf(r.target("ops").received).map((a) => [a.type, a.resolved])).toEqual([
    ["queue.stale", false],
    ["queue.stale", true],
  ]);
});

test("a stale queue whose target gets disabled is closed as such, not as moving again", async () => {
  const r = await setup(
    [{ name: "orders", script: () => ({ status: 503 }), schedule: ["0s", "1h"] }, { name: "ops" }],
    'to = ["ops"]\non = ["queue.stale"]\nstale_after = "2m"',
  );
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  r.clock.advance(3 * MIN);
  await r.settle();
  await r.scheduler.disableTarget("orders", "maintenance");
  r.clock.advance(1000);
  await r.settle();
  const [, closed] = alertsOf(r.target("ops").received);
  expect(closed).toMatchObject({ type: "queue.stale", resolved: true });
  expect(closed!.message).toBe("queue of orders: its target is disabled, so its deliveries wait paused (told by the target's own state) and are no longer counted as a stale queue");
});

test("a wave of bad signatures on a source is a source.rejections alert, resolved once it stops", async () => {
  const r = await setup([{ name: "orders" }, { name: "ops" }], 'to = ["ops"]');
  const app = createApp({ config: r.config, store: r.store, log: silentLogger, nowMs: r.clock, delivery: r.scheduler });
  const post = (body: string, signature: string) =>
    app.publicApp.handle(new Request("http://127.0.0.1/in/p", { method: "POST", body, headers: { "content-type": "application/json", "x-ploints-signature": signature } }));
  const good = '{"id":"1"}';
  expect((await post(good, createHmac("sha256", PROVIDER_SECRET).update(good).digest("hex"))).status).toBe(200);
  for (let i = 0; i < 4; i++) expect((await post(`{"id":"x${i}"}`, "00".repeat(32))).status).toBe(401);
  await r.store.writer.flushed();
  await r.settle();
  expect(alertsOf(r.target("ops").received)).toEqual([]); // 4 mismatches: no wave yet
  expect((await post('{"id":"x5"}', "00".repeat(32))).status).toBe(401);
  await r.store.writer.flushed();
  await r.settle();
  const [alert] = alertsOf(r.target("ops").received);
  expect(alert).toMatchObject({ type: "source.rejections", subject: "p", resolved: false, details: { source: "p", mismatches: 5, accepted: 1 } });
  expect(alert!.message).toBe("source p: 5 signature mismatches in the last 15 min against 1 accepted: the secret was probably rotated on one side only (provider or config).");
  // A burst of good requests takes the mismatches' share under the line, but they go on: still one wave.
  for (let i = 0; i < 30; i++) {
    const body = `{"id":"g${i}"}`;
    expect((await post(body, createHmac("sha256", PROVIDER_SECRET).update(body).digest("hex"))).status).toBe(200);
  }
  r.clock.advance(30_000);
  expect((await post('{"id":"x6"}', "00".repeat(32))).status).toBe(401);
  await r.store.writer.flushed();
  await r.settle();
  expect(alertsOf(r.target("ops").received).map((a) => a.resolved)).toEqual([false]);
  r.clock.advance(16 * MIN);
  await r.settle();
  expect(alertsOf(r.target("ops").received).map((a) => [a.type, a.resolved, a.message])).toEqual([
    ["source.rejections", false, alert!.message],
    ["source.rejections", true, "source p: the wave of signature mismatches has stopped (none for a minute)"],
  ]);
});

test("the same alert is sent at most once per repeat_after: not again inside the window, once more after it", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 410 }) }, { name: "ops" }], 'to = ["ops"]\nrepeat_after = "1h"');
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  expect(r.target("ops").received).toHaveLength(1);
  for (let i = 0; i < 3; i++) {
    r.clock.advance(20 * MIN);
    await r.settle();
  }
  expect(r.target("ops").received).toHaveLength(1); // 60 min: still inside the window
  r.clock.advance(MIN);
  await r.settle();
  const [first, again] = alertsOf(r.target("ops").received);
  expect([first!.type, again!.type]).toEqual(["target.disabled", "target.disabled"]);
  // The second is a reminder of the same episode, and says so.
  expect(again!.message).toBe(`still open (last alerted at ${first!.at}): ${first!.message}`);
  expect(again!.details).toMatchObject({ reminder: true, previousAlertAt: first!.at });
  expect(first!.details.reminder).toBeUndefined();
  expect(await metric(r.metrics, 'hookrelay_alerts_sent_total{kind="target.disabled"}')).toBe('hookrelay_alerts_sent_total{kind="target.disabled"} 2');
});

test("a problem that comes back soon after its resolved notice is alerted again at once, and resolved again: the last word is never a stale RESOLVED", async () => {
  let gone = true;
  const r = await setup([{ name: "orders", script: () => ({ status: gone ? 410 : 200 }) }, { name: "ops" }], 'to = ["ops"]\nrepeat_after = "1h"');
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  gone = false;
  r.clock.advance(MIN);
  await r.scheduler.enableTarget("orders");
  await r.settle();
  // Ten minutes later, well inside repeat_after, it answers 410 again; then it is enabled again.
  gone = true;
  r.clock.advance(10 * MIN);
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  gone = false;
  r.clock.advance(MIN);
  await r.scheduler.enableTarget("orders");
  await r.settle();
  expect(alertsOf(r.target("ops").received).map((a) => [a.type, a.resolved])).toEqual([
    ["target.disabled", false],
    ["target.recovered", true],
    ["target.disabled", false],
    ["target.recovered", true],
  ]);
  // While it persists, a condition is still raised only once per repeat_after.
  gone = true;
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  for (let i = 0; i < 3; i++) {
    r.clock.advance(15 * MIN);
    await r.settle();
  }
  expect(r.target("ops").received).toHaveLength(5);
});

test("two relays sharing one store file send a target.disabled once, not once each", async () => {
  const r = await setup([{ name: "orders" }, { name: "ops" }], 'to = ["ops"]');
  const second = await relayOn(r.file, r.config, r.clock);
  await disableTarget(r.store.writer, { name: "orders", reason: "HTTP 410 Gone", by: "gone", nowMs: r.clock() });
  await Promise.all([r.watch.check(), second.watch.check()]);
  await r.scheduler.drain();
  await second.scheduler.drain();
  const rows = await r.store.reads.execute("SELECT event_type, duplicates FROM events WHERE source = 'hookrelay'");
  expect(rows.rows.map((x) => x.event_type)).toEqual(["target.disabled"]);
  expect(r.target("ops").received).toHaveLength(1);
  // One relay stored it; the other found it stored: read as the last word on the target before it
  // sent, or, when both read at once, by the store's dedupe inside the writer's transaction.
  const sent = 'hookrelay_alerts_sent_total{kind="target.disabled"}';
  const debounced = 'hookrelay_alerts_suppressed_total{kind="target.disabled",reason="repeat_after"}';
  expect((await value(r.metrics, sent)) + (await value(second.metrics, sent))).toBe(1);
  expect((await value(r.metrics, debounced)) + (await value(second.metrics, debounced))).toBe(1);
});

test("an alert target that itself fails is never sent alerts about it: they are logged and counted", async () => {
  const r = await setup([{ name: "ops", script: () => ({ status: 410 }) }], 'to = ["ops"]');
  await submitEvent(r.store, { targets: ["ops"], receivedAt: r.clock() });
  await r.settle();
  r.clock.advance(2 * 60 * MIN);
  await r.settle();
  expect(r.target("ops").received).toHaveLength(1); // the event routed to it, and nothing else
  expect((await r.store.reads.execute("SELECT count(*) AS n FROM events WHERE source = 'hookrelay'")).rows[0]!.n).toBe(0);
  expect(await metric(r.metrics, 'hookrelay_alerts_suppressed_total{kind="target.disabled",reason="about_alert_target"}')).toBe(
    'hookrelay_alerts_suppressed_total{kind="target.disabled",reason="about_alert_target"} 2',
  );
});

test("an alert whose own delivery fails raises no delivery.failed, and its target's alerts go to the other alert targets only", async () => {
  const r = await setup(
    [
      { name: "orders", script: () => ({ status: 410 }) },
      { name: "ops", script: () => ({ status: 500 }), schedule: ["0s"] },
      { name: "pager" },
    ],
    'to = ["ops", "pager"]',
  );
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  await r.settle();
  // ops got the alert and failed it (its only attempt): no delivery.failed about it, to anyone.
  expect(alertsOf(r.target("ops").received).map((a) => a.type)).toEqual(["target.disabled"]);
  expect(alertsOf(r.target("pager").received).map((a) => a.type)).toEqual(["target.disabled"]);
  expect(await metric(r.metrics, 'hookrelay_alerts_suppressed_total{kind="delivery.failed",reason="about_alert_target"}')).toBe(
    'hookrelay_alerts_suppressed_total{kind="delivery.failed",reason="about_alert_target"} 1',
  );
  // A regular delivery to ops failing is told to pager, not to ops.
  await submitEvent(r.store, { targets: ["ops"], receivedAt: r.clock() });
  await r.settle();
  expect(alertsOf(r.target("pager").received).map((a) => [a.type, a.subject])).toEqual([
    ["target.disabled", "orders"],
    ["delivery.failed", "ops"],
  ]);
  expect(r.target("ops").received).toHaveLength(2);
});

test("a slack-format alert target gets a signed {\"text\": …} line with the kind, subject and message", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 410 }) }, { name: "ops", format: "slack" }], 'to = ["ops"]');
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  const rec = r.target("ops").received[0]!;
  const body = JSON.parse(new TextDecoder().decode(rec.body)) as { text: string };
  expect(Object.keys(body)).toEqual(["text"]);
  expect(body.text).toStartWith("[hookrelay] target.disabled orders: target orders was disabled: HTTP 410 Gone: target disabled;");
  expect(rec.headers.get("content-type")).toBe("application/json");
  expect(() => verify(rec)).not.toThrow();
});

test("a store that cannot commit is logged and counted, and its store.unwritable alert is sent once it can", async () => {
  const r = await setup([{ name: "orders" }, { name: "ops" }], 'to = ["ops"]');
  // The probe says "full" (the writes themselves stay real): what /readyz would say of a full disk.
  let full = true;
  // The store's own account: its commits failed from 20 s before the first check, and one succeeded
  // 10 s before the check that found it over. The alert tells those times, not the checks'.
  const firstCheck = r.clock();
  const outage = { sinceMs: firstCheck - 20_000, untilMs: null as number | null };
  const watch = new AlertWatch({
    store: { ...r.store, unwritableReason: async () => (full ? "full" : r.store.unwritableReason()), lastOutage: () => outage },
    config: r.config,
    clock: r.clock,
    log: silentLogger,
    engine: () => r.scheduler,
    counts: r.metrics,
  });
  await watch.check();
  r.clock.advance(3 * MIN);
  await watch.check();
  expect((await r.store.reads.execute("SELECT count(*) AS n FROM events WHERE source = 'hookrelay'")).rows[0]!.n).toBe(0);
  full = false;
  outage.untilMs = r.clock() - 10_000;
  await watch.check();
  await r.scheduler.drain();
  const [alert] = alertsOf(r.target("ops").received);
  expect(alert).toMatchObject({
    type: "store.unwritable", subject: "store", resolved: true,
    details: { reason: "full", since: new Date(firstCheck - 20_000).toISOString(), until: new Date(r.clock() - 10_000).toISOString() },
  });
  expect(alert!.message).toStartWith(`the store could not commit (full) for 3m, from ${new Date(firstCheck - 20_000).toISOString()} to `);
  // Raised once for the outage, when it is told.
  expect(await metric(r.metrics, 'hookrelay_alerts_raised_total{kind="store.unwritable"}')).toBe('hookrelay_alerts_raised_total{kind="store.unwritable"} 1');

  // A second outage two minutes later is told too, with its own times (repeat_after is an hour).
  r.clock.advance(2 * MIN);
  full = true;
  outage.sinceMs = r.clock();
  outage.untilMs = null;
  await watch.check();
  r.clock.advance(MIN);
  full = false;
  outage.untilMs = r.clock();
  await watch.check();
  await r.scheduler.drain();
  const told = alertsOf(r.target("ops").received);
  expect(told.map((a) => a.details.since)).toEqual([new Date(firstCheck - 20_000).toISOString(), new Date(outage.sinceMs).toISOString()]);
  expect(await metric(r.metrics, 'hookrelay_alerts_raised_total{kind="store.unwritable"}')).toBe('hookrelay_alerts_raised_total{kind="store.unwritable"} 2');
});

test("a new config's [alerts] replaces the old one in a running watcher (reload), keeping what it has seen", async () => {
  const r = await setup([{ name: "orders", script: () => ({ status: 410 }) }, { name: "ops" }, { name: "pager" }], 'to = ["ops"]\non = ["queue.stale"]');
  await submitEvent(r.store, { targets: ["orders"], receivedAt: r.clock() });
  await r.settle();
  expect(r.target("ops").received).toHaveLength(0); // target.disabled is not on
  r.watch.reconfigure({ ...r.config, alerts: { ...r.config.alerts!, to: ["pager"], on: ["target.disabled", "target.recovered"] } });
  r.clock.advance(MIN);
  await r.settle();
  expect(r.target("ops").received).toHaveLength(0);
  expect(alertsOf(r.target("pager").received).map((a) => [a.type, a.subject])).toEqual([["target.disabled", "orders"]]);
  r.watch.reconfigure({ ...r.config, alerts: null });
  await r.scheduler.enableTarget("orders");
  await r.settle();
  expect(r.target("pager").received).toHaveLength(1); // alerts off: no recovered notice
});

/** A relay where "orders" has a stale queue and "gone" was disabled by a 410, each alerted to "ops". */
async function staleOrdersAndGone() {
  const r = await setup(
    [{ name: "orders", script: () => ({ status: 503 }), schedule: ["0s", "1h"] }, { name: "gone", script: () => ({ status: 410 }) }, { name: "ops" }],
    'to = ["ops"]\nstale_after = "2m"',
  );
  await submitEvent(r.store, { targets: ["orders", "gone"], receivedAt: r.clock() });
  await r.settle();
  r.clock.advance(3 * MIN);
  await r.settle();
  return r;
}

test("a reload that removes a target with a stale queue or a disabled state closes their alerts, saying why", async () => {
  const r = await staleOrdersAndGone();
  expect(alertsOf(r.target("ops").received).map((a) => [a.type, a.subject, a.resolved]).sort()).toEqual([
    ["queue.stale", "orders", false],
    ["target.disabled", "gone", false],
  ]);
  r.watch.reconfigure({ ...r.config, targets: r.config.targets.filter((t) => t.name === "ops") });
  r.clock.advance(MIN);
  await r.settle();
  const closed = alertsOf(r.target("ops").received).slice(2);
  expect(closed.map((a) => [a.type, a.subject, a.resolved, a.message]).sort()).toEqual([
    ["queue.stale", "orders", true, "target orders was removed from the config: its queue.stale alert is closed"],
    ["target.recovered", "gone", true, "target gone was removed from the config: its target.disabled alert is closed"],
  ]);
});

test("a relay started with a config that no longer names a target closes the alerts the store has open for it", async () => {
  const r = await staleOrdersAndGone();
  expect(alertsOf(r.target("ops").received)).toHaveLength(2);
  await r.watch.stop();
  await r.scheduler.stop(100);
  // The restart: the same store, a config without "gone" (and "orders" kept, its queue still stale).
  r.clock.advance(MIN);
  const restarted = await relayOn(r.file, { ...r.config, targets: r.config.targets.filter((t) => t.name !== "gone") }, r.clock);
  await restarted.settle();
  const after = alertsOf(r.target("ops").received).slice(2);
  expect(after.map((a) => [a.type, a.subject, a.resolved, a.message])).toEqual([
    ["target.recovered", "gone", true, "target gone is no longer in the config: its target.disabled alert is closed"],
  ]);
});
