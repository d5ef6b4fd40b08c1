/**
 * Alerts through the compiled binary: `hookrelay check` names a bad [alerts]
 * key, and `hookrelay serve` tells the alert target, signed, when a target
 * answers 410 and again when it is enabled through the admin API; the alerts
 * are events of the source `hookrelay` in the API like any other.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { adminJson, recordingTarget, runBinary, scratchDir, sendEvent, serveBinary, relayToml, TARGET_SECRET } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-alerts-");
afterAll(() => tmp.remove());

const alertsOf = (hits: { body: Uint8Array }[]) => hits.map((h) => JSON.parse(new TextDecoder().decode(h.body)) as { type: string; subject: string; resolved: boolean });

test("hookrelay check names a listen alert target and a misspelt alert kind by key path", async () => {
  const toml = relayToml({
    targets: [{ name: "orders", url: "http://127.0.0.1:9/hooks" }],
    extra: '[[targets]]\nname = "alice"\nkind = "listen"\ntoken = "a-long-enough-listen-token"\n[alerts]\nto = ["alice"]\non = ["queue.stael"]\n',
  });
  writeFileSync(join(tmp.dir, "bad.toml"), toml);
  const r = await runBinary(["check", "--config", "bad.toml"], tmp.dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('alerts.to[0]: "alice" is a listen target; alerts go to push targets only');
  expect(r.stderr).toContain('got "queue.stael"; did you mean "queue.stale"?');
});

test("a target answering 410 sends a signed target.disabled alert, and enabling it through the API a target.recovered", async () => {
  let gone = true;
  const orders = recordingTarget(() => new Response(gone ? "gone" : "ok", { status: gone ? 410 : 200 }));
  const ops = recordingTarget();
  const relay = await serveBinary(
    tmp.dir,
    relayToml({ targets: [{ name: "orders", url: orders.url }], extra: `[[targets]]\nname = "ops"\nurl = "${ops.url}"\nsigning = { secret = "${TARGET_SECRET}" }\n[alerts]\nto = ["ops"]\n` }),
  );
  try {
    expect((await sendEvent(relay.publicUrl, '{"id":"e1","type":"points.earned"}')).status).toBe(200);
    await waitFor("the target.disabled alert", () => ops.hits.length >= 1);
    const hit = ops.hits[0]!;
    const headers = Object.fromEntries(hit.headers.entries());
    expect(new Webhook(TARGET_SECRET).verify(Buffer.from(hit.body), headers)).toMatchObject({ type: "target.disabled", subject: "orders", resolved: false });
    expect(headers["hookrelay-source"]).toBe("hookrelay");

    gone = false;
    const res = await fetch(`${relay.adminUrl}/api/targets/orders/enable`, { method: "POST", headers: { origin: relay.adminUrl } });
    expect(res.status).toBeLessThan(300);
    await waitFor("the target.recovered alert", () => ops.hits.length >= 2);
    expect(alertsOf(ops.hits)).toMatchObject([
      { type: "target.disabled", subject: "orders", resolved: false },
      { type: "target.recovered", subject: "orders", resolved: true },
    ]);
    expect(() => new Webhook(TARGET_SECRET).verify(Buffer.from(ops.hits[1]!.body), Object.fromEntries(ops.hits[1]!.headers.entries()))).not.toThrow();
    const listed = await adminJson<{ events: { source: string; eventType: string }[] }>(relay.adminUrl, "/api/events?source=hookrelay");
    expect(listed.events.map((e) => [e.source, e.eventType])).toEqual([
      ["hookrelay", "target.recovered"],
      ["hookrelay", "target.disabled"],
    ]);
    expect(orders.hits.length).toBe(2); // the paused delivery went out after enable
    // An alert's event page and API detail show it like any event: its body and its delivery to ops.
    const id = ops.hits[0]!.webhookId;
    const detail = await adminJson<{ source: string; deliveries: { target: string; status: string }[] }>(relay.adminUrl, `/api/events/${id}`);
    expect(detail.source).toBe("hookrelay");
    expect(detail.deliveries.map((d) => [d.target, d.status])).toEqual([["ops", "delivered"]]);
    const page = await fetch(`${relay.adminUrl}/events/${id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("target.disabled");
  } finally {
    await relay.stop();
    orders.stop();
    ops.stop();
  }
}, 30_000);
