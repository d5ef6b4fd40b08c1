/**
 * Route payload filters end to end in one process: the production delivery
 * engine, real recording targets on 127.0.0.1:0, events posted through the
 * public app. Events go only where their routes' filters say; an event no
 * route takes is stored as `unrouted` and never sent; the admin API explains
 * each route's verdict and tests a route that is not in the config yet.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestRelay, rows, type TestRelay } from "../support/relay.ts";
import { recordingTarget, runCleanups, type Received } from "./fixtures.ts";

const TOKEN = "route-filters-admin-token";
const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";
const cleanups: (() => void | Promise<void>)[] = [];
let relay: TestRelay;
let targets: Record<"big" | "acme" | "vip" | "sms", ReturnType<typeof recordingTarget>>;
const ids = {} as Record<"big" | "acme" | "refund" | "vipGbp" | "small" | "inbound" | "outbound" | "billing", string>;

const toml = (url: (name: keyof typeof targets) => string) => `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[admin]
token = "${TOKEN}"

[[sources]]
name = "shop"
verify = { scheme = "none" }
dedupe = { key = ["$.id"] }
event_type = "$.type"

[[sources]]
name = "sms"
verify = { scheme = "none" }

[[sources]]
name = "billing"
verify = { scheme = "shared-secret", header = "X-Webhook-Secret", secret = "billing-secret" }

${(["big", "acme", "vip", "sms"] as const).map((n) => `[[targets]]\nname = "${n}"\nurl = "${url(n)}"\nsigning = { secret = "${WHSEC}" }\n`).join("\n")}
[[routes]]
from = "shop"
to = ["big"]
event_types = ["order.*"]
filter.body = { data = { amount = { "$gte" = 10000 }, currency = { "$in" = ["EUR", "USD"] } } }

[[routes]]
from = "shop"
to = ["acme"]
filter.headers = { "X-Shop-Domain" = "acme.myshopify.com" }

[[routes]]
from = "shop"
to = ["vip"]
filter.body = { "$or" = [{ type = "order.refunded" }, { customer = { tags = "vip" } }] }

[[routes]]
from = "sms"
to = ["sms"]
filter.body = { Direction = "inbound" }
filter.query = { env = "live" }

[[routes]]
from = "billing"
to = ["big"]
filter.headers = { "X-Webhook-Secret" = { "$startsWith" = "billing" } }
`;

const order = (id: string, type: string, amount: number, currency = "EUR", tags: string[] = []) =>
  JSON.stringify({ id, type, data: { amount, currency }, customer: { tags } });

async function send(source: string, body: string, opts: { headers?: Record<string, string>; query?: string } = {}): Promise<string> {
  const res = await relay.app.publicApp.handle(
    new Request(`http://127.0.0.1/in/${source}${opts.query ?? ""}`, { method: "POST", body, headers: { "content-type": "application/json", ...opts.headers } }),
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

const api = (path: string, init: RequestInit = {}) =>
  relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as object) } }));
const form = { "content-type": "application/x-www-form-urlencoded" };
const dedupeIds = (received: Received[]) => received.map((r) => JSON.parse(new TextDecoder().decode(r.body)).id as string).sort();

beforeAll(async () => {
  targets = { big: recordingTarget(cleanups), acme: recordingTarget(cleanups), vip: recordingTarget(cleanups), sms: recordingTarget(cleanups) };
  relay = await startTestRelay(toml((n) => targets[n].url), { engine: { pollMs: 50 } });
  ids.big = await send("shop", order("o1", "order.paid", 20000), { headers: { "x-shop-domain": "other.myshopify.com" } });
  ids.acme = await send("shop", order("o2", "order.paid", 50), { headers: { "X-Shop-Domain": "acme.myshopify.com" } });
  ids.refund = await send("shop", order("o3", "order.refunded", 50));
  ids.vipGbp = await send("shop", order("o4", "order.paid", 20000, "GBP", ["new", "vip"]));
  ids.small = await send("shop", order("o5", "order.paid", 10));
  ids.inbound = await send("sms", "MessageSid=SM1&Direction=inbound&Body=hi", { headers: form, query: "?env=live" });
  ids.outbound = await send("sms", "MessageSid=SM2&Direction=outbound-api&Body=hi", { headers: form, query: "?env=live" });
  ids.billing = await send("billing", JSON.stringify({ id: "b1" }), { headers: { "x-webhook-secret": "billing-secret" } });
  await Promise.all([targets.big.until(1), targets.acme.until(1), targets.vip.until(2), targets.sms.until(1)]);
});
afterAll(async () => {
  await relay.close();
  await runCleanups(cleanups);
});

describe("delivery by filter", () => {
  test("matching events go only to the targets their routes' filters select", async () => {
    const deliveries = await rows(relay.store, "SELECT event_id, target FROM deliveries");
    expect(deliveries.map((d) => `${d.event_id} ${d.target}`).sort()).toEqual(
      [`${ids.big} big`, `${ids.acme} acme`, `${ids.refund} vip`, `${ids.vipGbp} vip`, `${ids.inbound} sms`].sort(),
    );
    expect(dedupeIds(targets.big.received)).toEqual(["o1"]);
    expect(dedupeIds(targets.acme.received)).toEqual(["o2"]);
    expect(dedupeIds(targets.vip.received)).toEqual(["o3", "o4"]);
    expect(targets.sms.received.map((r) => new TextDecoder().decode(r.body))).toEqual(["MessageSid=SM1&Direction=inbound&Body=hi"]);
  });

  test("an event no route takes is stored as unrouted, never sent, and listed by status=unrouted", async () => {
    const list = await api("/api/events?status=unrouted");
    expect(list.status).toBe(200);
    const { events } = (await list.json()) as { events: { id: string; status: string }[] };
    expect(events.map((e) => [e.id, e.status])).toEqual([
      [ids.billing, "unrouted"],
      [ids.outbound, "unrouted"],
      [ids.small, "unrouted"],
    ]);
    const one = (await (await api(`/api/events/${ids.small}`)).json()) as { status: string; deliveries: unknown[] };
    expect(one).toMatchObject({ status: "unrouted", deliveries: [] });
    const delivered = (await (await api("/api/events?status=delivered")).json()) as { events: { id: string }[] };
    expect(delivered.events.map((e) => e.id)).not.toContain(ids.small);
    expect(await api("/api/events?status=none")).toHaveProperty("status", 400);
  });

  test("the events page offers unrouted as a status and lists those events", async () => {
    const page = await (await api("/?status=unrouted")).text();
    expect(page).toContain('<option value="unrouted" selected>unrouted</option>');
    expect(page).toContain(ids.small);
    expect(page).toContain(ids.outbound);
    expect(page).not.toContain(ids.big);
  });

  test("redelivering an unrouted event routes it again through the filters: still nowhere, unless a target is named", async () => {
    const again = await api(`/api/events/${ids.small}/redeliver`, { method: "POST" });
    expect(again.status).toBe(409);
    const named = await api(`/api/events/${ids.small}/redeliver`, { method: "POST", body: JSON.stringify({ target: "big" }) });
    expect(named.status).toBe(202);
    await targets.big.until(2);
    expect(dedupeIds(targets.big.received)).toEqual(["o1", "o5"]);
    const list = (await (await api("/api/events?status=unrouted")).json()) as { events: { id: string }[] };
    expect(list.events.map((e) => e.id)).toEqual([ids.billing, ids.outbound]);
  });
});

describe("routing explanation", () => {
  test("GET /api/events/<id>/routing gives each route's verdict with a human reason", async () => {
    const res = await api(`/api/events/${ids.acme}/routing`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      routes: [
        { index: 0, from: "shop", to: ["big"], matched: false, reason: "body.data.amount: 50 is not >= 10000" },
        { index: 1, from: "shop", to: ["acme"], matched: true, reason: "every event type; headers match" },
        {
          index: 2,
          from: "shop",
          to: ["vip"],
          matched: false,
          reason: 'body: none of the "$or" filters match (body.type: "order.paid" is not "order.refunded"; body.customer.tags: [] is not "vip")',
        },
        { index: 3, from: "sms", to: ["sms"], matched: false, reason: 'from source "sms", not "shop"' },
        { index: 4, from: "billing", to: ["big"], matched: false, reason: 'from source "billing", not "shop"' },
      ],
    });
    const sms = (await (await api(`/api/events/${ids.outbound}/routing`)).json()) as { routes: { reason: string }[] };
    expect(sms.routes[3]!.reason).toBe('body.Direction: "outbound-api" is not "inbound"');
  });

  test("a filter sees a credential header as it is stored, redacted, at ingest as in the explanation", async () => {
    const res = (await (await api(`/api/events/${ids.billing}/routing`)).json()) as { routes: unknown[] };
    expect(res.routes[4]).toEqual({
      index: 4,
      from: "billing",
      to: ["big"],
      matched: false,
      reason: 'headers.x-webhook-secret: "[redacted: 14 chars]" does not start with "billing"',
    });
  });

  test("the event page shows the same verdicts", async () => {
    const page = await (await api(`/events/${ids.acme}`)).text();
    expect(page).toContain("Routing");
    expect(page).toContain("body.data.amount: 50 is not &gt;= 10000");
    expect(page).toContain("every event type; headers match");
  });

  test("POST /api/routes/test answers the same shape for a route that is not in the config", async () => {
    const route = { from: "shop", to: ["big"], event_types: ["order.*"], filter: { body: { data: { amount: { $gte: 10 } } } } };
    const res = await api("/api/routes/test", { method: "POST", body: JSON.stringify({ eventId: ids.small, route }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      routes: [{ index: 0, from: "shop", to: ["big"], matched: true, reason: 'event type "order.paid" matches "order.*"; body matches' }],
    });
    const miss = await api("/api/routes/test", {
      method: "POST",
      body: JSON.stringify({ eventId: ids.small, route: { from: "shop", to: "big", filter: { headers: { "x-shop-domain": { $exists: true } } } } }),
    });
    expect(await miss.json()).toEqual({
      routes: [{ index: 0, from: "shop", to: ["big"], matched: false, reason: "headers.x-shop-domain: missing (expected to exist)" }],
    });
  });

  test("POST /api/routes/test checks the route as config does: a bad filter or name is a 400 naming each key path", async () => {
    const bad = await api("/api/routes/test", {
      method: "POST",
      body: JSON.stringify({
        eventId: ids.small,
        route: { from: "shop", to: ["big", "nope"], filter: { body: { data: { amount: { $gte: "x" } }, type: { $regexp: "o" } } } },
      }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: {
        code: "invalid_request",
        message:
          'route.to[1]: no target named "nope"; route.filter.body.data.amount.$gte: expected a number, got "x"; route.filter.body.type.$regexp: unknown operator (expected one of $eq, $neq, $in, $nin, $gt, $gte, $lt, $lte, $startsWith, $endsWith, $contains, $exists, $not, $or, $and)',
      },
    });
    const cases: [unknown, string][] = [
      ["{", "body must be JSON"],
      [{ route: { from: "shop", to: "big" } }, "eventId: required"],
      [{ eventId: ids.small, route: { from: "nowhere", to: "big", when: 1 } }, 'route.from: no source named "nowhere"; route.when: unknown key'],
      [{ eventId: ids.small, route: { from: "shop", to: [] } }, "route.to: expected a target name or a non-empty list of them, got an empty list"],
      [{ eventId: ids.small, route: { from: "shop", to: "big", event_types: [1] } }, "route.event_types: expected an event type glob or a non-empty list of them, got a list"],
      [{ eventId: ids.small }, "route: required"],
      [{ eventId: ids.small, route: { from: "shop", to: "big" }, extra: 1 }, "extra: unknown key"],
      [[1], 'expected {"eventId": "evt_…", "route": {…}}; eventId: required; route: required'],
    ];
    for (const [body, message] of cases) {
      const res = await api("/api/routes/test", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
      expect({ body, status: res.status, json: await res.json() }).toEqual({ body, status: 400, json: { error: { code: "invalid_request", message } } });
    }
    const unknown = await api("/api/routes/test", {
      method: "POST",
      body: JSON.stringify({ eventId: "evt_00000000000000000000000000", route: { from: "shop", to: "big" } }),
    });
    expect(unknown.status).toBe(404);
  });

  test("both need the admin token", async () => {
    const anon = (path: string, init: RequestInit = {}) => relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, init));
    expect((await anon(`/api/events/${ids.small}/routing`)).status).toBe(401);
    expect((await anon("/api/routes/test", { method: "POST", body: "{}" })).status).toBe(401);
  });
});
