/**
 * "Retry now" and cancel against a real recording target, with the delivery
 * engine running: a retried delivery goes again at once as the same delivery
 * (same webhook-id, next attempt number), and a cancelled one is never sent
 * until it is redelivered or retried.
 */
import { afterEach, expect, test } from "bun:test";
import { recordingTarget, runCleanups } from "../delivery/fixtures.ts";
import { ADMIN_TOKEN } from "../support/admin-fixture.ts";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

/** One source and three targets at `url`: orders retries after an hour, once never retries, slow waits 10 s for an answer. */
function toml(url: string): string {
  const target = (name: string, extra: string) => `[[targets]]\nname = "${name}"\nurl = "${url}"\nsigning = { secret = "${WHSEC}" }\n${extra}\n`;
  return `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[admin]
token = "${ADMIN_TOKEN}"
[[sources]]
name = "shop"
verify = { scheme = "none" }
dedupe = { key = ["$.id"] }
event_type = "$.type"
${target("orders", 'retry = { schedule = ["0s", "1h"], jitter = 0 }')}
${target("once", 'retry = { schedule = ["0s"], jitter = 0 }')}
${target("slow", 'timeout = "10s"')}
[[routes]]
from = "shop"
to = ["orders"]
event_types = ["order.*"]
[[routes]]
from = "shop"
to = ["once"]
event_types = ["once.*"]
[[routes]]
from = "shop"
to = ["slow"]
event_types = ["slow.*"]
`;
}

async function relayWith(script: Parameters<typeof recordingTarget>[1]) {
  const target = recordingTarget(cleanups, script);
  const relay = await startTestRelay(toml(target.url), { engine: { pollMs: 50 }, jobs: { pollMs: 50, pauseMs: 0 } });
  cleanups.unshift(() => relay.close());
  const api = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await relay.app.adminApp.handle(
      new Request(`http://127.0.0.1${path}`, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      }),
    );
    return { status: res.status, body: (await res.json()) as any };
  };
  const send = async (id: string, type: string) => String(((await (await relay.post("shop", JSON.stringify({ id, type }))).json()) as { id: string }).id);
  return { target, relay, api, send };
}

/** The one delivery of `eventId` once `ready` holds for it (polled, deadline 10 s). */
async function deliveryOf(relay: TestRelay, eventId: string, ready: (d: { status: string; attempts: number }) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [d] = await rows(relay.store, "SELECT id, status, attempts FROM deliveries WHERE event_id = ? ORDER BY id", [eventId]);
    const row = d && { id: String(d.id), status: String(d.status), attempts: Number(d.attempts) };
    if ((row && ready(row)) || Date.now() > deadline) return row!;
    await Bun.sleep(10);
  }
}

test("retry now sends a pending delivery again at once: the same delivery and webhook-id, the next attempt number", async () => {
  const { target, relay, api, send } = await relayWith((_req, n) => ({ status: n === 1 ? 500 : 200 }));
  const eventId = await send("o1", "order.created");
  await target.until(1);
  // The 500 left it pending, its next attempt an hour away.
  const waiting = await deliveryOf(relay, eventId, (d) => d.status === "pending" && d.attempts === 1);
  const retry = await api(`/api/deliveries/${waiting.id}/retry`, { method: "POST" });
  expect(retry.status).toBe(202);
  expect(retry.body).toMatchObject({ id: waiting.id, status: "pending", attempt: 2 });
  await target.until(2);
  const [first, second] = target.received;
  expect([first!.headers.get("webhook-id"), second!.headers.get("webhook-id")]).toEqual([eventId, eventId]);
  expect([first!.headers.get("hookrelay-attempt"), second!.headers.get("hookrelay-attempt")]).toEqual(["1", "2"]);
  expect([first!.headers.get("hookrelay-delivery"), second!.headers.get("hookrelay-delivery")]).toEqual([waiting.id, waiting.id]);
  const done = await deliveryOf(relay, eventId, (d) => d.status === "delivered");
  expect(done).toEqual({ id: waiting.id, status: "delivered", attempts: 2 });
  expect(await rows(relay.store, "SELECT id FROM deliveries WHERE event_id = ?", [eventId])).toHaveLength(1);
  // Delivered: nothing to retry.
  const again = await api(`/api/deliveries/${waiting.id}/retry`, { method: "POST" });
  expect(again.status).toBe(409);
  expect(again.body.error).toMatchObject({ code: "delivered", message: expect.stringContaining("redeliver") });
});

test("retry now on a failed delivery (its schedule used up) makes one more attempt as the same delivery", async () => {
  const { target, relay, api, send } = await relayWith((_req, n) => ({ status: n === 1 ? 503 : 200 }));
  const eventId = await send("f1", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  expect(failed.attempts).toBe(1);
  expect((await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" })).body).toMatchObject({ status: "pending", attempt: 2 });
  await target.until(2);
  expect(target.received[1]!.headers.get("hookrelay-attempt")).toBe("2");
  expect(await deliveryOf(relay, eventId, (d) => d.status === "delivered")).toEqual({ id: failed.id, status: "delivered", attempts: 2 });
});

test("retry now refuses a delivery in flight (409) and an unknown one (404)", async () => {
  const { target, relay, api, send } = await relayWith(() => "hang");
  const eventId = await send("s1", "slow.created");
  await target.until(1);
  const flying = await deliveryOf(relay, eventId, (d) => d.status === "delivering");
  const r = await api(`/api/deliveries/${flying.id}/retry`, { method: "POST" });
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "in_flight", message: expect.stringContaining("in flight") });
  expect((await api("/api/deliveries/dlv_00000000000000000000000000/retry", { method: "POST" })).status).toBe(404);
  expect((await api("/api/deliveries/nope/retry", { method: "POST" })).status).toBe(404);
});

test("retry now refuses a delivery whose event was erased (409), and its page offers none", async () => {
  const { target, relay, api, send } = await relayWith(() => ({ status: 503 }));
  const eventId = await send("e1", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  const page = async () => (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(await page()).toContain(`action="/deliveries/${failed.id}/retry"`);
  expect((await api(`/api/events/${eventId}`, { method: "DELETE" })).status).toBe(200);
  const r = await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" });
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "erased", message: expect.stringContaining("erased") });
  expect(await deliveryOf(relay, eventId, () => true)).toEqual({ id: failed.id, status: "failed", attempts: 1 });
  const html = await page();
  expect(html).toContain("were erased");
  expect(html).not.toContain(`action="/deliveries/${failed.id}/retry"`);
  expect(target.received).toHaveLength(1);
});

test("retry now refuses a failed delivery once a newer delivery of the same pair is on its way (nothing sent twice)", async () => {
  // The first attempt fails for good; the rest hang, so the redelivery stays on its way.
  const { relay, api, send } = await relayWith((_r, n) => (n === 1 ? { status: 503 } : "hang"));
  const eventId = await send("r1", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  expect((await api(`/api/events/${eventId}/redeliver`, { method: "POST", body: { target: "once" } })).status).toBe(202);
  const r = await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" });
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "on_its_way" });
  const open = await rows(relay.store, "SELECT count(*) AS n FROM deliveries WHERE event_id = ? AND status IN ('pending', 'delivering', 'paused')", [eventId]);
  expect(Number(open[0]!.n)).toBe(1);
});

test("retry now refuses a failed delivery a later redelivery replaced, even once that one delivered it; the event page offers it no Retry now", async () => {
  const { target, relay, api, send } = await relayWith((_r, n) => ({ status: n === 1 ? 503 : 200 }));
  const eventId = await send("r2", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  expect((await api(`/api/events/${eventId}/redeliver`, { method: "POST", body: { target: "once" } })).status).toBe(202);
  await target.until(2);
  const deadline = Date.now() + 10_000;
  while ((await rows(relay.store, "SELECT 1 FROM deliveries WHERE event_id = ? AND status = 'delivered'", [eventId])).length === 0 && Date.now() < deadline) await Bun.sleep(10);
  const r = await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" });
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "replaced" });
  await Bun.sleep(200);
  expect(target.received).toHaveLength(2);
  const page = await (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  const oldCard = page.slice(page.indexOf(`data-delivery-id="${failed.id}"`)).split("</article>")[0]!;
  expect(oldCard).toContain("replaced by a later delivery");
  expect(oldCard).not.toContain("Retry now");
});

test("cancelled deliveries are never sent, even once their target is enabled again; redeliver and retry send them", async () => {
  const { target, relay, api, send } = await relayWith(() => ({ status: 200 }));
  expect((await api("/api/targets/orders/disable", { method: "POST" })).status).toBe(200);
  const held: string[] = [];
  for (let i = 0; i < 5; i++) held.push(await send(`held-${i}`, "order.created"));
  const cancel = await api("/api/deliveries/cancel", { method: "POST", body: { filter: { target: "orders" } } });
  expect(cancel.body.matched).toBe(5);
  const deadline = Date.now() + 10_000;
  let job = (await api(`/api/jobs/${cancel.body.job}`)).body;
  while (job.status === "running" && Date.now() < deadline) job = (await Bun.sleep(10), await api(`/api/jobs/${cancel.body.job}`)).body;
  expect(job).toMatchObject({ status: "done", affected: 5 });
  expect((await api("/api/targets/orders/enable", { method: "POST" })).status).toBe(200);
  // A fresh event goes through at once; the cancelled ones never follow it, whatever the rounds do.
  const fresh = await send("fresh", "order.created");
  await target.until(1);
  await Bun.sleep(300); // six poll periods of the engine
  expect(target.received.map((r) => r.headers.get("hookrelay-event-type"))).toEqual(["order.created"]);
  expect(target.received[0]!.headers.get("webhook-id")).toBe(fresh); // webhook-id is the event id
  const statuses = await rows(relay.store, `SELECT DISTINCT status FROM deliveries WHERE event_id IN (${held.map(() => "?").join(",")})`, held);
  expect(statuses.map((r) => r.status)).toEqual(["cancelled"]);

  // Retry now brings one back as the same delivery; a bulk redeliver the rest as new ones.
  const [one] = await rows(relay.store, "SELECT id FROM deliveries WHERE event_id = ?", [held[0]!]);
  expect((await api(`/api/deliveries/${one!.id}/retry`, { method: "POST" })).body).toMatchObject({ status: "pending", attempt: 1 });
  await target.until(2);
  expect(target.received[1]!.headers.get("webhook-id")).toBe(held[0]!);
  expect(await rows(relay.store, "SELECT id, status FROM deliveries WHERE event_id = ?", [held[0]!])).toHaveLength(1);
  const redeliver = await api("/api/events/redeliver", { method: "POST", body: { filter: { status: "cancelled" } } });
  expect(redeliver.body.matched).toBe(4);
  await target.until(6);
  expect(new Set(target.received.slice(2).map((r) => r.headers.get("hookrelay-attempt")))).toEqual(new Set(["1"]));
  // A redelivery is the same event (webhook-id) in a new delivery (hookrelay-delivery): a consumer
  // that dedupes on webhook-id skips it, one that wants it processed again tells it apart.
  const redelivered = target.received.slice(2).find((r) => r.headers.get("webhook-id") === held[1]!)!;
  const pair = await rows(relay.store, "SELECT id, status FROM deliveries WHERE event_id = ?", [held[1]!]);
  expect(pair).toHaveLength(2);
  const cancelledRow = pair.find((r) => r.status === "cancelled")!;
  const newRow = pair.find((r) => r.status !== "cancelled")!;
  expect(redelivered.headers.get("hookrelay-delivery")).toBe(String(newRow.id));
  expect(String(cancelledRow.id)).not.toBe(String(newRow.id));
});

test("retry now says when the attempt waits: for the target's open circuit (until when), or for the target to be enabled", async () => {
  const { relay, api, send } = await relayWith(() => ({ status: 503 }));
  const eventId = await send("c1", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  const openUntil = Date.now() + 600_000;
  await relay.store.writer.write([{ sql: "UPDATE target_state SET circuit_open_until = ?, consecutive_failures = 5 WHERE name = 'once'", args: [openUntil] }]);
  const viaApi = await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" });
  expect(viaApi.body).toMatchObject({ status: "pending", circuitOpenUntil: new Date(openUntil).toISOString() });
  // The engine's own view of the circuit was not told (only the store was): the attempt may go and fail again.
  await Bun.sleep(200);
  await deliveryOf(relay, eventId, (d) => d.status !== "delivering");
  // The event page's button: a form post answered with a redirect to the page and its notice.
  const form = async () => {
    const res = await relay.app.adminApp.handle(
      new Request(`http://127.0.0.1/deliveries/${failed.id}/retry`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-www-form-urlencoded", origin: "http://127.0.0.1", "sec-fetch-site": "same-origin" },
        body: `event=${eventId}`,
      }),
    );
    expect(res.status).toBe(303);
    const page = await relay.app.adminApp.handle(new Request(`http://127.0.0.1${res.headers.get("location")}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    return (await page.text()).replace(/<[^>]+>/g, "");
  };
  expect(await form()).toContain(`waits for its target's circuit, open until ${new Date(openUntil).toISOString().replace("T", " ").replace(/\.\d+Z$/, "")} UTC`);
  await api("/api/targets/once/disable", { method: "POST" });
  expect(await form()).toContain("goes once its target is enabled");
  expect((await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" })).body).toMatchObject({ status: "paused" });
});

test("a delivery whose target a reload removed says so on its page, offers no Retry now, and the API refuses one (409)", async () => {
  const { relay, api, send } = await relayWith(() => ({ status: 503 }));
  const eventId = await send("g1", "once.created");
  const failed = await deliveryOf(relay, eventId, (d) => d.status === "failed");
  // As a reload that drops the target leaves the config the actions read.
  relay.config.targets.splice(relay.config.targets.findIndex((t) => t.name === "once"), 1);
  const r = await api(`/api/deliveries/${failed.id}/retry`, { method: "POST" });
  expect(r.status).toBe(409);
  expect(r.body.error.code).toBe("target_not_configured");
  // Failed: its page says why no Retry now is offered.
  const failedPage = await (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(failedPage.replace(/<[^>]+>/g, "")).toContain("its target is no longer configured");
  await relay.store.writer.write([{ sql: "UPDATE deliveries SET status = 'pending' WHERE id = ?", args: [failed.id] }]);
  const page = await (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(page.replace(/<[^>]+>/g, "")).toContain("its target is no longer configured: it waits until the target is listed again");
  expect(page).not.toContain(`action="/deliveries/${failed.id}/retry"`);
});

test("an event page says when a delivery's attempts have no record (retention removed them), instead of 'No attempt yet'", async () => {
  const { relay, send } = await relayWith(() => ({ status: 500 }));
  const eventId = await send("ord_purged", "order.paid");
  await deliveryOf(relay, eventId, (d) => d.attempts === 1 && d.status === "pending");
  // What retention's age-based delete does to the attempt records of an open delivery.
  await relay.store.writer.write([{ sql: "DELETE FROM attempts WHERE event_id = ?", args: [eventId] }]);
  const page = await (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(page).toContain("No record of its 1 attempt: removed by the store's retention, or cut short by a relay that stopped.");
  expect(page).not.toContain("No attempt yet.");
});
