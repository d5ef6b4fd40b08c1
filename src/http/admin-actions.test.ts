import { afterEach, expect, test } from "bun:test";
import { ADMIN_TOKEN, adminToml, seedEvents } from "../../test/support/admin-fixture.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";
import { randomBytes } from "node:crypto";
import { makeId } from "../core/ids.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { openCircuit } from "../store/target-state.ts";
import { onPostgres } from "../../test/support/test-store.ts";

const relays: TestRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});
async function relayWithEvents(n: number, log?: Logger) {
  const r = await startTestRelay(adminToml(), { log });
  relays.push(r);
  const events = await seedEvents(r.store, n, Date.UTC(2025, 0, 1));
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await r.app.adminApp.handle(
      new Request(`http://127.0.0.1${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as object) } }),
    );
    return { status: res.status, body: (await res.json()) as any };
  };
  return { r, events, api };
}

test("erase removes body, headers, query and the targets' reply excerpts, and keeps a metadata row marked erased", async () => {
  const { r, events, api } = await relayWithEvents(3);
  const e = events[1]!;
  // A query string and a target that echoed the body: both may hold what the request is about.
  await r.store.writer.write([
    { sql: "UPDATE events SET query = 'email=alice%40example.com' WHERE id = ?", args: [e.id] },
    {
      sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt, request)
            SELECT 'att_echo', id, event_id, target, 1, 200, 5, NULL, 'got alice@example.com', NULL FROM deliveries WHERE event_id = ? LIMIT 1`,
      args: [e.id],
    },
  ]);
  const before = await api(`/api/events/${e.id}`);
  expect(before.body.request.query).toBe("email=alice%40example.com");
  expect(JSON.stringify(before.body.deliveries)).toContain("got alice@example.com");
  const del = await api(`/api/events/${e.id}`, { method: "DELETE" });
  expect(del.status).toBe(200);
  expect(del.body.id).toBe(e.id);
  const ev = await api(`/api/events/${e.id}`);
  expect(ev.body).toMatchObject({ id: e.id, dedupeKey: e.dedupeKey, erasedAt: del.body.erasedAt });
  expect(ev.body.request).toMatchObject({ headers: [], body: null, bodyBase64: null, query: "" });
  expect(ev.body.remoteAddr).toBeNull();
  expect(del.body.walEmptied).toBe(true);
  expect(JSON.stringify(ev.body)).not.toContain("alice");
  expect((await api(`/api/events/${e.id}/body`)).status).toBe(410);
  expect((await api(`/api/events/${e.id}/redeliver`, { method: "POST" })).status).toBe(409);
  const list = await api(`/api/events?q=${e.dedupeKey}`);
  expect(list.body.events[0].erasedAt).toBe(del.body.erasedAt);
});

test("what an operator does is logged: an erase (the privacy audit trail), a redelivery, a retry, a bulk action", async () => {
  const lines: Record<string, unknown>[] = [];
  const { events, api } = await relayWithEvents(10, createLogger("info", (l) => lines.push(JSON.parse(l))));
  const done = events.find((x) => x.source === "shop" && Object.values(x.statuses).every((s) => s === "delivered" || s === "failed"))!;
  expect((await api(`/api/events/${done.id}/redeliver`, { method: "POST" })).status).toBe(202);
  // Again at once: refused (on its way), and nothing done is nothing logged.
  expect((await api(`/api/events/${done.id}/redeliver`, { method: "POST" })).status).toBe(409);
  expect(lines.filter((l) => l.msg === "event redelivered").length).toBe(1);
  const erased = events.find((x) => x.id !== done.id)!;
  expect((await api(`/api/events/${erased.id}`, { method: "DELETE" })).status).toBe(200);
  const bulk = await api("/api/events/redeliver", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ filter: { source: "shop" } }) });
  expect(bulk.status).toBe(202);
  const msgs = lines.map((l) => l.msg);
  expect(lines.find((l) => l.msg === "event redelivered")).toMatchObject({ level: "info", event: done.id, deliveries: 2 });
  expect(lines.find((l) => l.msg === "event erased")).toMatchObject({ level: "info", event: erased.id });
  expect(lines.find((l) => l.msg === "bulk action started")).toMatchObject({ kind: "redeliver", job: bulk.body.job, events: bulk.body.matched, filter: { source: "shop" } });
  expect(msgs).not.toContain("delivery retried"); // nothing retried yet
  const failed = events.find((x) => x.id !== erased.id && x.source !== "shop" && Object.values(x.statuses).includes("failed"))!;
  const detail = await api(`/api/events/${failed.id}`);
  const d = (detail.body.deliveries as { id: string; status: string }[]).find((x) => x.status === "failed")!;
  expect((await api(`/api/deliveries/${d.id}/retry`, { method: "POST" })).status).toBe(202);
  expect(lines.find((l) => l.msg === "delivery retried")).toMatchObject({ delivery: d.id });
});

test("redeliver creates a new pending delivery per target, or for the named one, never beside one still on its way", async () => {
  const { r, events, api } = await relayWithEvents(3);
  const e = events.find((x) => x.source === "shop" && Object.values(x.statuses).every((s) => s === "delivered" || s === "failed"))!;
  const all = await api(`/api/events/${e.id}/redeliver`, { method: "POST" });
  expect(all).toEqual({ status: 202, body: { created: 2, onItsWay: [] } });
  // Both are pending now: a second redeliver doubles neither, and says so.
  const again = await api(`/api/events/${e.id}/redeliver`, { method: "POST" });
  expect(again.status).toBe(409);
  expect(again.body.error).toMatchObject({ code: "on_its_way" });
  expect(again.body.error.message).toContain("its delivery to audit, orders is still on its way");
  const named = await api(`/api/events/${e.id}/redeliver`, { method: "POST", body: JSON.stringify({ target: "audit" }) });
  expect(named.body.error).toMatchObject({ code: "on_its_way" });
  // Once audit's has ended, audit alone gets a new one; orders' is still pending and is left alone.
  await r.store.writer.write([{ sql: "UPDATE deliveries SET status = 'delivered' WHERE event_id = ? AND target = 'audit'", args: [e.id] }]);
  expect(await api(`/api/events/${e.id}/redeliver`, { method: "POST" })).toEqual({ status: 202, body: { created: 1, onItsWay: ["orders"] } });
  const ev = await api(`/api/events/${e.id}`);
  expect(ev.body.deliveries.filter((d: any) => d.status === "pending").map((d: any) => d.target).sort()).toEqual(["audit", "orders"]);
  expect(ev.body.deliveries.length).toBe(5);
  expect((await api(`/api/events/${e.id}/redeliver`, { method: "POST", body: JSON.stringify({ target: "ghost" }) })).status).toBe(404);
  expect((await api(`/api/events/${e.id}/redeliver`, { method: "POST", body: "{not json" })).status).toBe(400);
});

test("disabling a target pauses its pending deliveries and enabling makes them pending again", async () => {
  const { r, api } = await relayWithEvents(40);
  const count = async (status: string) =>
    Number((await r.store.reads.execute({ sql: "SELECT count(*) AS n FROM deliveries WHERE target = 'orders' AND status = ?", args: [status] })).rows[0]!.n);
  const pendingBefore = await count("pending");
  const pausedBefore = await count("paused");
  expect(pendingBefore).toBeGreaterThan(0);
  const off = await api("/api/targets/orders/disable", { method: "POST" });
  expect(off.body).toMatchObject({ name: "orders", enabled: false, state: "disabled" });
  expect(await count("pending")).toBe(0);
  expect(await count("paused")).toBe(pendingBefore + pausedBefore);
  const on = await api("/api/targets/orders/enable", { method: "POST" });
  expect(on.body).toMatchObject({ name: "orders", enabled: true });
  expect(await count("paused")).toBe(0);
  expect((await api("/api/targets/ghost/enable", { method: "POST" })).status).toBe(404);
});

test("a test event is stored with one delivery to the target", async () => {
  const { api } = await relayWithEvents(0);
  const sent = await api("/api/targets/audit/test", { method: "POST" });
  expect(sent.status).toBe(202);
  const ev = await api(`/api/events/${sent.body.eventId}`);
  expect(ev.body).toMatchObject({ source: "_test", eventType: "hookrelay.test", status: "pending" });
  expect(ev.body.deliveries.map((d: any) => d.target)).toEqual(["audit"]);
  expect(JSON.parse(ev.body.request.body)).toMatchObject({ type: "hookrelay.test", target: "audit" });
  expect(sent.body.paused).toBe(false);
});

test("a test event to a disabled target says it waits, paused, in the API's answer and on the page", async () => {
  const { r, api } = await relayWithEvents(0);
  expect((await api("/api/targets/audit/disable", { method: "POST" })).status).toBe(200);
  const sent = await api("/api/targets/audit/test", { method: "POST" });
  expect(sent.body).toMatchObject({ paused: true });
  expect((await api(`/api/events/${sent.body.eventId}`)).body.deliveries.map((d: any) => d.status)).toEqual(["paused"]);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, origin: "http://127.0.0.1" };
  const posted = await r.app.adminApp.handle(new Request("http://127.0.0.1/targets/audit/test", { method: "POST", headers: auth }));
  const location = posted.headers.get("location")!;
  expect(location).toContain("waits=disabled");
  const page = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${location}`, { headers: auth }))).text();
  expect(page).toContain("The target is disabled: it waits, paused, until the target is enabled.");
});

test("a test event to a target whose circuit is open says until when it waits", async () => {
  const { r, api } = await relayWithEvents(0);
  const until = Date.now() + 60_000;
  await openCircuit(r.store.writer, { name: "audit", untilMs: until, nowMs: Date.now() });
  const sent = await api("/api/targets/audit/test", { method: "POST" });
  expect(sent.body).toMatchObject({ paused: false, circuitOpenUntil: new Date(until).toISOString() });
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, origin: "http://127.0.0.1" };
  const posted = await r.app.adminApp.handle(new Request("http://127.0.0.1/targets/audit/test", { method: "POST", headers: auth }));
  const page = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${posted.headers.get("location")}`, { headers: auth }))).text();
  expect(page).toContain("It waits for the target's circuit, open until");
});

test("a spike of signature mismatches on a source is flagged", async () => {
  const { r, api } = await relayWithEvents(0);
  const now = Date.now();
  for (let i = 0; i < 6; i++)
    await r.store.reads.execute({
      sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers) VALUES (?, 'billing', ?, 'bad_credentials', 'POST', '/in/billing', '[]')",
      args: [`rej_${String(i).padStart(26, "0")}`, now - i * 1000],
    });
  const body = (await api("/api/sources")).body;
  const billing = body.sources.find((s: any) => s.name === "billing");
  expect(billing.recent.mismatches).toBe(6);
  expect(billing.mismatchWarning).toContain("rotated on one side only");
  expect(body.sources.find((s: any) => s.name === "shop").mismatchWarning).toBeNull();
});

test("an attempt in flight when its event is erased records its outcome but not the reply echoing the event", async () => {
  // A target that holds each request until told, then echoes the body back.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let received!: () => void;
  const arrived = new Promise<void>((r) => (received = r));
  const target = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      received();
      await released;
      return new Response(`got ${body}`);
    },
  });
  try {
    const toml = adminToml({ targetUrl: `http://127.0.0.1:${target.port}/hooks` }).replace(/signing = \{/g, 'timeout = "300ms"\nsigning = {');
    const r = await startTestRelay(toml, { engine: { pollMs: 50, leaseMs: 100 } });
    relays.push(r);
    const api = async (path: string, init: RequestInit = {}) => {
      const res = await r.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
      return (await res.json()) as any;
    };
    expect((await r.post("billing", JSON.stringify({ id: "e1", type: "t", email: "alice@example.com" }), { "x-webhook-secret": "billing-secret" })).status).toBe(200);
    await arrived;
    const id = (await api("/api/events")).events[0].id;
    await api(`/api/events/${id}`, { method: "DELETE" });
    release();
    const attempt = async () => (await r.store.reads.execute({ sql: "SELECT status_code, response_excerpt FROM attempts WHERE event_id = ?", args: [id] })).rows[0];
    // The attempt lands after the erase: its outcome recorded, the echo not (at no moment, so that a
    // relay stopped or killed right after cannot leave it behind).
    for (let i = 0; i < 100 && (await attempt()) === undefined; i++) await Bun.sleep(20);
    expect(await attempt()).toMatchObject({ status_code: 200, response_excerpt: null });
    expect(JSON.stringify(await api(`/api/events/${id}`))).not.toContain("alice");
  } finally {
    release();
    target.stop(true);
  }
});

test("a wave on a busy source is flagged though the stored rejections (capped) cannot outnumber a fifth of what it accepted", async () => {
  const { r, api } = await relayWithEvents(0);
  const now = Date.now();
  // 4,000 accepted in the window, then a rotation: rejections kept at their cap, 10 a second, for the last minute.
  const accepted = Array.from({ length: 4000 }, (_, i) => ({
    sql: "INSERT INTO events (id, source, dedupe_key, received_at, method, path, query, headers, body) VALUES (?, 'billing', ?, ?, 'POST', '/in/billing', '', '[]', ?)",
    args: [makeId("evt", now - 600_000 + i * 100, randomBytes(10)), `k${i}`, now - 600_000 + i * 100, new TextEncoder().encode("{}")],
  }));
  await r.store.writer.write(accepted);
  const wave = Array.from({ length: 600 }, (_, i) => ({
    sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers) VALUES (?, 'billing', ?, 'bad_credentials', 'POST', '/in/billing', '[]')",
    args: [`rej_${String(i).padStart(26, "0")}`, now - i * 100],
  }));
  await r.store.writer.write(wave);
  const billing = (await api("/api/sources")).body.sources.find((s: any) => s.name === "billing");
  expect(billing.recent.mismatches).toBe(600);
  expect(billing.recent.received).toBeGreaterThan(600 * 5);
  expect(billing.mismatchWarning).toContain("rotated on one side only");
});

test("a pending delivery already due says it waits its turn at its target, not a next time in the past", async () => {
  const { r, events } = await relayWithEvents(12);
  const e = events.find((x) => x.statuses.orders === "pending")!;
  const res = await r.app.adminApp.handle(new Request(`http://127.0.0.1/events/${e.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
  const page = await res.text();
  expect(page).toContain("waits its turn at its target");
  expect(page).not.toMatch(/· next <time/);
});

test("a target's failed count is of deliveries still failed: one redelivered since no longer counts, as in the events list it links to", async () => {
  const { events, api } = await relayWithEvents(30);
  const failedCount = async () => (await api("/api/targets")).body.targets.find((t: any) => t.name === "orders").queue.failed;
  const listed = async () => (await api("/api/events?target=orders&status=failed&limit=500")).body.events.length;
  const before = await failedCount();
  expect(before).toBe(await listed());
  const e = events.find((x) => x.statuses.orders === "failed")!;
  expect((await api(`/api/events/${e.id}/redeliver`, { method: "POST", body: JSON.stringify({ target: "orders" }) })).status).toBe(202);
  expect(await failedCount()).toBe(before - 1);
  expect(await failedCount()).toBe(await listed());
});

test("the overview says first what needs a look now: targets not healthy or with deliveries waiting over a minute, else that all is well", async () => {
  const page = async (r: TestRelay) =>
    (await r.app.adminApp.handle(new Request("http://127.0.0.1/overview", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  const quiet = await relayWithEvents(0);
  expect(await page(quiet.r)).toContain("Now: every target healthy, nothing waiting longer than a minute.");
  // Seeded a year ago: pending deliveries to orders wait since then.
  const { r } = await relayWithEvents(12);
  const html = await page(r);
  expect(html).toContain("Now: 1 target to look at");
  expect(html).toContain('<a href="/targets#target-orders">orders</a>');
  expect(html).not.toContain('<a href="/targets#target-audit">audit</a>');
  // A healthy target with a backlog says why it is listed, not a blank cell.
  expect(html).toContain("a backlog: deliveries wait for a free slot of its concurrency (and its rate)");
});

test("the targets page shows the targets that need a look first, config order within a state", async () => {
  const { r, api } = await relayWithEvents(0);
  expect((await api("/api/targets/audit/disable", { method: "POST" })).status).toBe(200);
  const html = await (await r.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  const cards = [...html.matchAll(/<article class="card target" id="target-([a-z0-9_-]+)"/g)].map((m) => m[1]);
  // Configured as orders, audit: audit (disabled) now comes before orders (healthy).
  expect(cards).toEqual(["audit", "orders"]);
});

test("the events list filtered by a source no longer configured shows it selected, not 'any'; a job's filter says its since time in UTC", async () => {
  const { r } = await relayWithEvents(0);
  const page = await (await r.app.adminApp.handle(new Request("http://127.0.0.1/?source=nope", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(page).toContain('<option value="nope" selected>nope (not configured)</option>');
  const { filterText } = await import("../ui/bulk-pages.ts");
  expect(filterText({ source: null, target: null, status: null, type: null, q: null, text: null, since: "2026-12-05T12:25:23.000Z", until: "2026-12-05T13:00:00.000Z" } as never)).toBe(
    "since 2026-12-05 12:25:23 UTC",
  );
  // The box alone (its words are the stored text), the box beside words of their own, words alone.
  const none = { source: null, target: null, status: null, type: null, since: null, until: null };
  expect(filterText({ ...none, q: "order", text: "order" } as never)).toBe("search “order”");
  expect(filterText({ ...none, q: "order", text: "zebra order" } as never)).toBe("search “order” · words “zebra”");
  expect(filterText({ ...none, q: null, text: "zebra" } as never)).toBe("words “zebra”");
});

test("a job started from the box beside words of their own links back to a list with both", async () => {
  const { r } = await relayWithEvents(0);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, origin: "http://127.0.0.1" };
  const form = new URLSearchParams({ q: "order", text: "zebra", until: String(Date.now()) });
  const started = await r.app.adminApp.handle(new Request("http://127.0.0.1/bulk/cancel", { method: "POST", headers: { ...auth, "content-type": "application/x-www-form-urlencoded" }, body: form }));
  const job = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${started.headers.get("location")}`, { headers: auth }))).text();
  const link = /<a href="\/(\?[^"]*)">the filter it matched<\/a>/.exec(job)?.[1]?.replaceAll("&amp;", "&");
  const params = new URLSearchParams(link);
  expect(params.get("q")).toBe("order");
  expect(params.get("text")).toBe("zebra");
});

test("the targets page's repeated buttons name their target for a screen reader", async () => {
  const { r } = await relayWithEvents(0);
  const page = await (await r.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).text();
  expect(page).toContain('aria-label="Disable audit"');
  expect(page).toContain('aria-label="Send a test event to audit"');
});

test("a test event's page offers no curl command (no endpoint takes it); a JSON body that is not UTF-8 says why it has no pretty view", async () => {
  const { r, api } = await relayWithEvents(0);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const sent = await api("/api/targets/audit/test", { method: "POST" });
  const testPage = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1/events/${sent.body.eventId}`, { headers: auth }))).text();
  expect(testPage).not.toContain("curl command");
  const id = makeId("evt", Date.now(), randomBytes(10));
  await r.store.writer.submit({
    id, source: "shop", eventType: "x", dedupeKey: id, dedupeWindowMs: 0, receivedAt: Date.now(), method: "POST", path: "/in/shop", query: "",
    headers: [["content-type", "application/json"]], body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), contentType: "application/json", remoteAddr: null, deliveries: [],
  });
  const page = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1/events/${id}`, { headers: auth }))).text();
  expect(page).toContain("Pretty JSON view left out: the body is not UTF-8 text.");
  expect(page).toContain("curl command");
});

test("a test event to a listen target with no client connected says it waits for one", async () => {
  const toml = `${adminToml()}\n[[targets]]\nname = "alice"\nkind = "listen"\ntoken = "alice-token-0123456789"\n`;
  const r = await startTestRelay(toml);
  relays.push(r);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, origin: "http://127.0.0.1" };
  const posted = await r.app.adminApp.handle(new Request("http://127.0.0.1/targets/alice/test", { method: "POST", headers: auth }));
  expect(posted.headers.get("location")).toContain("waits=client");
  const page = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${posted.headers.get("location")}`, { headers: auth }))).text();
  expect(page).toContain("No <code>hookrelay listen</code> client is connected to this target: it waits until one connects.");
  // Its delivery's card says what it waits for, not "due since …, waits its turn".
  const eventId = new URL(`http://x${posted.headers.get("location")}`).searchParams.get("event");
  const eventPage = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1/events/${eventId}`, { headers: auth }))).text();
  expect(eventPage).toContain("waits for a <code>hookrelay listen</code> client to connect to its target");
  // Retry now says so too, not "due now".
  const deliveryId = /action="\/deliveries\/(dlv_[0-9A-Z]{26})\/retry"/.exec(eventPage)?.[1];
  expect(deliveryId).toBeDefined();
  const form = new URLSearchParams({ event: eventId! });
  const retried = await r.app.adminApp.handle(new Request(`http://127.0.0.1/deliveries/${deliveryId}/retry`, { method: "POST", headers: { ...auth, "content-type": "application/x-www-form-urlencoded" }, body: form }));
  expect(retried.headers.get("location")).toContain("waits=client");
  const after = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${retried.headers.get("location")}`, { headers: auth }))).text();
  expect(after).toContain("waits for a <code>hookrelay listen</code> client: none is connected to its target.");
});

test("in the UI, an action that did nothing says why as an alert, not as a done notice; stopping a job that had ended says so", async () => {
  const { r, events, api } = await relayWithEvents(3);
  const ui = async (path: string, method = "GET") => {
    const res = await r.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, origin: "http://127.0.0.1" }, body: method === "POST" ? "" : undefined }));
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  };
  const e = events.find((x) => x.source === "shop" && Object.values(x.statuses).every((s) => s === "delivered" || s === "failed"))!;
  const first = await ui(`/events/${e.id}/redeliver`, "POST");
  expect((await ui(first.location!)).text).toContain('<p class="flash" role="status">Redelivery scheduled');
  // Again: its deliveries are on their way, nothing redelivered.
  const again = await ui(`/events/${e.id}/redeliver`, "POST");
  const page = (await ui(again.location!)).text;
  expect(page).toContain('<p class="error" role="alert">Nothing redelivered:');
  expect(page).not.toContain('class="flash"');
  // A job stopped after it ended.
  const started = await api("/api/events/redeliver", { method: "POST", body: JSON.stringify({ filter: { source: "shop" }, target: "audit" }) });
  const jobId = started.body.job as string;
  await r.store.writer.write([{ sql: "UPDATE jobs SET status = 'done', finished_at = updated_at WHERE id = ?", args: [jobId] }]);
  const stop = await ui(`/jobs/${jobId}/stop`, "POST");
  expect(stop.location).toBe(`/jobs/${jobId}?done=ended`);
  expect((await ui(stop.location!)).text).toContain("The job had already ended: there was nothing left to stop.");
  // A job that worked through its events and changed none says why, rather than read as one that did not run.
  await r.store.writer.write([{ sql: "UPDATE jobs SET done = total, affected = 0 WHERE id = ?", args: [jobId] }]);
  expect((await ui(`/jobs/${jobId}`)).text).toContain('<p class="notice" id="job-nothing">No matched event got a new delivery: each one&#x27;s delivery to its target was still on its way');
});

test("erasing a rejected request removes its headers, body, query string and address, keeps the row marked erased and counted, and is logged", async () => {
  const lines: Record<string, unknown>[] = [];
  const { r, api } = await relayWithEvents(0, createLogger("info", (l) => lines.push(JSON.parse(l))));
  // A wrong secret, a query string and a body that name the customer.
  const refused = await r.app.publicApp.handle(
    new Request("http://127.0.0.1/in/billing?email=alice%40example.com", {
      method: "POST",
      body: JSON.stringify({ email: "alice@example.com" }),
      headers: { "x-webhook-secret": "wrong", "x-customer": "alice@example.com", "x-forwarded-for": "203.0.113.9" },
    }),
  );
  expect(refused.status).toBe(401);
  let list = await api("/api/rejections");
  for (let i = 0; i < 50 && list.body.rejections.length === 0; i++) {
    await Bun.sleep(20);
    list = await api("/api/rejections");
  }
  const id = list.body.rejections[0].id as string;
  expect(JSON.stringify((await api(`/api/rejections/${id}`)).body)).toContain("alice");
  const del = await api(`/api/rejections/${id}`, { method: "DELETE" });
  expect(del.status).toBe(200);
  expect(del.body.id).toBe(id);
  const after = await api(`/api/rejections/${id}`);
  expect(after.body).toMatchObject({ id, source: "billing", reason: list.body.rejections[0].reason, path: "/in/billing", headers: [], bodyExcerpt: null, remoteAddr: null, erasedAt: del.body.erasedAt });
  expect(JSON.stringify(after.body)).not.toContain("alice");
  expect(JSON.stringify((await api("/api/rejections")).body)).not.toContain("alice");
  // Still counted: its source's figures and the mismatch alert read the row.
  const row = (await r.store.reads.execute({ sql: "SELECT represents FROM rejections WHERE id = ?", args: [id] })).rows[0];
  expect(Number(row?.represents)).toBe(1);
  // Erased again: the first erase's time stands.
  expect((await api(`/api/rejections/${id}`, { method: "DELETE" })).body.erasedAt).toBe(del.body.erasedAt);
  expect((await api("/api/rejections/rej_00000000000000000000000000", { method: "DELETE" })).status).toBe(404);
  expect(lines.filter((l) => l.msg === "rejection erased").map((l) => l.rejection)).toEqual([id, id]);
});

// The embedded file's write-ahead log; PostgreSQL's is the server's own.
test.skipIf(onPostgres)("an erase that finds a reader on the write-ahead log says so: in its answer, and in a warning", async () => {
  const lines: Record<string, unknown>[] = [];
  const { r, events, api } = await relayWithEvents(2, createLogger("info", (l) => lines.push(JSON.parse(l))));
  // A reader in a transaction (as a backup or an export is) on a log that holds frames keeps it from being
  // emptied. In a process of its own: SQLite's file locks are the process's, another copy of SQLite in
  // this one would not stop the checkpoint.
  await r.store.writer.write([{ sql: "UPDATE events SET duplicates = duplicates + 1 WHERE id = ?", args: [events[1]!.id] }]);
  const reader = Bun.spawn(
    [process.execPath, "-e", `const { Database } = require("bun:sqlite"); const db = new Database(process.argv[1], { readonly: true }); db.exec("BEGIN"); db.query("SELECT count(*) FROM events").get(); console.log("reading"); await Bun.sleep(60_000);`, r.store.filePath!],
    { stdout: "pipe", stderr: "inherit" },
  );
  try {
    await reader.stdout.getReader().read(); // "reading"
    const held = await api(`/api/events/${events[0]!.id}`, { method: "DELETE" });
    expect(held.status).toBe(200);
    expect(held.body.walEmptied).toBe(false);
    expect(lines.find((l) => l.msg?.toString().startsWith("erased bytes stay in the write-ahead log"))).toMatchObject({ level: "warn", event: events[0]!.id });
  } finally {
    reader.kill();
    await reader.exited;
  }
  expect((await api(`/api/events/${events[1]!.id}`, { method: "DELETE" })).body.walEmptied).toBe(true);
  // Erased again: said as a repeat in the audit trail.
  await api(`/api/events/${events[1]!.id}`, { method: "DELETE" });
  expect(lines.filter((l) => l.msg === "event erased" && l.event === events[1]!.id).map((l) => l.again ?? false)).toEqual([false, true]);
});
