import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_TOKEN, adminToml, seedEvents, type SeededEvent } from "../../test/support/admin-fixture.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";
import { makeId } from "../core/ids.ts";

const START = Date.UTC(2025, 0, 1);
const COUNT = 3000;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

let relay: TestRelay;
let seeded: SeededEvent[];
const api = (path: string, init: RequestInit = {}) =>
  relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { ...init, headers: { ...auth, ...(init.headers as object) } }));

beforeAll(async () => {
  relay = await startTestRelay(adminToml());
  seeded = await seedEvents(relay.store, COUNT, START);
});
afterAll(() => relay.close());

/** Follows nextCursor to the end and returns every id. */
async function allIds(query: string, limit = 500): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const res = await api(`/api/events?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: { id: string }[]; nextCursor: string | null };
    ids.push(...body.events.map((e) => e.id));
    if (!body.nextCursor) return ids;
    cursor = body.nextCursor;
  }
}
const newestFirst = (events: SeededEvent[]) => events.map((e) => e.id).reverse();

describe("authentication", () => {
  test("a request without a token is refused with 401", async () => {
    const res = await relay.app.adminApp.handle(new Request("http://127.0.0.1/api/events"));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: "missing or wrong admin token" } });
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });

  test("a wrong token is refused with 401, whatever its length", async () => {
    for (const token of ["nope", `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1)]) {
      const res = await relay.app.adminApp.handle(new Request("http://127.0.0.1/api/events", { headers: { authorization: `Bearer ${token}` } }));
      expect(res.status).toBe(401);
    }
  });

  test("a UI page without a session redirects to the login form", async () => {
    const res = await relay.app.adminApp.handle(new Request("http://127.0.0.1/targets"));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?next=%2Ftargets");
  });
});

describe("events list", () => {
  test("cursor paging walks every event exactly once, newest first", async () => {
    const ids = await allIds("", 137);
    expect(ids).toEqual(newestFirst(seeded));
  });

  test("each filter returns exactly the matching events", async () => {
    const cases: [string, (e: SeededEvent) => boolean][] = [
      ["source=billing", (e) => e.source === "billing"],
      ["type=order.paid", (e) => e.type === "order.paid"],
      ["source=shop&type=invoice.sent", (e) => e.source === "shop" && e.type === "invoice.sent"],
      ["status=failed", (e) => Object.values(e.statuses).includes("failed")],
      ["status=pending", (e) => Object.values(e.statuses).includes("pending")],
      ["target=audit", (e) => "audit" in e.statuses],
      ["target=audit&status=failed", (e) => e.statuses.audit === "failed"],
      ["target=orders&status=paused&source=shop", (e) => e.statuses.orders === "paused" && e.source === "shop"],
    ];
    for (const [query, match] of cases) {
      const expected = newestFirst(seeded.filter(match));
      expect(expected.length).toBeGreaterThan(0);
      expect({ query, ids: await allIds(query, 97) }).toEqual({ query, ids: expected });
    }
  });

  test("since and until restrict the list to a time range", async () => {
    const since = new Date(START + 1000 * 1000).toISOString();
    const until = START + 1100 * 1000;
    const expected = newestFirst(seeded.filter((e) => e.receivedAt >= START + 1000 * 1000 && e.receivedAt < until));
    expect(expected.length).toBe(100);
    expect(await allIds(`since=${since}&until=${until}`)).toEqual(expected);
  });

  test("q finds an event by its dedupe key, a key prefix, or its id", async () => {
    const e = seeded[1234]!;
    expect(await allIds(`q=${e.dedupeKey}`)).toEqual([e.id]);
    expect(await allIds(`q=${e.id}`)).toEqual([e.id]);
    expect((await allIds("q=inv_0012")).length).toBe(seeded.filter((x) => x.dedupeKey.startsWith("inv_0012")).length);
  });

  test("list entries carry the contract's fields and the overall status", async () => {
    const res = await api("/api/events?limit=1");
    const body = (await res.json()) as { events: Record<string, unknown>[]; nextCursor: string };
    const e = seeded.at(-1)!;
    expect(body.events[0]).toMatchObject({
      id: e.id, source: e.source, eventType: e.type, dedupeKey: e.dedupeKey,
      receivedAt: new Date(e.receivedAt).toISOString(), duplicates: 0,
    });
    expect(["pending", "delivering", "delivered", "failed", "paused"]).toContain(body.events[0]!.status as string);
    expect(body.nextCursor).toBe(e.id);
  });

  test("a list entry names each target's latest status, by target; the overall status is the one needing a human most", async () => {
    const mixed = seeded.find((x) => x.source === "shop" && x.statuses.audit === "failed" && x.statuses.orders === "delivered")!;
    const res = await api(`/api/events?q=${mixed.id}`);
    const [entry] = ((await res.json()) as { events: { id: string; status: string; targets: unknown }[] }).events;
    expect(entry).toMatchObject({ id: mixed.id, status: "failed", targets: [{ target: "audit", status: "failed" }, { target: "orders", status: "delivered" }] });
  });

  test("invalid filters answer 400 with the one error shape", async () => {
    for (const q of ["status=lost", "limit=0", "limit=abc", "cursor=nope", "since=yesterday-ish", "stauts=failed"]) {
      const res = await api(`/api/events?${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    }
    // A misspelt key is named, never read as no filter at all (every event).
    expect(((await (await api("/api/events?stauts=failed")).json()) as { error: { message: string } }).error.message).toBe("stauts: unknown key");
    // The page reads its own keys and leaves a link's others alone.
    expect((await api("/?status=failed&utm_source=chat")).status).toBe(200);
    // So is one on the rejections list; its page leaves a link's others alone too.
    expect(((await (await api("/api/rejections?reasn=bad_signature")).json()) as { error: { message: string } }).error.message).toBe("reasn: unknown key");
    expect((await api("/rejections?utm_source=chat")).status).toBe(200);
    // A search box of only spaces is no search, as an empty one is.
    expect((await api("/?q=+++")).status).toBe(200);
    expect((await api("/api/events?q=%20%20")).status).toBe(200);
    // A limit out of range says the range, however far out it is.
    for (const q of ["limit=0", "limit=501", "limit=100000"]) {
      const res = await api(`/api/events?${q}`);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe("limit: must be a whole number from 1 to 500");
    }
  });

  test("a one-term search that finds nothing offers the search for the dedupe keys it starts", async () => {
    const page = await (await api("/?q=ord_00&source=shop")).text();
    expect(page).toContain("No events match these filters.");
    expect(page).toContain('A dedupe key is found whole: <a href="/?source=shop&amp;q=ord_00*">ord_00*</a> finds the keys that start with it.');
  });

  test("on the events page an invalid filter shows its error and the form to fix it, no list and no live updates", async () => {
    const res = await api("/?since=yesterday-ish");
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain('class="error"');
    expect(page).toContain('value="yesterday-ish"');
    expect(page).not.toContain("No events");
    expect(page).not.toContain("data-live-src");
    expect(page).not.toContain('class="pager"');
    // A valid filter lists and streams.
    const ok = await (await api("/?since=2h")).text();
    expect(ok).toContain("data-live-src");
  });
});

describe("one event", () => {
  test("the event shows its raw request with secret headers masked, and every attempt", async () => {
    const e = seeded.find((x) => x.source === "shop" && x.statuses.audit === "failed")!;
    const res = await api(`/api/events/${e.id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.request.method).toBe("POST");
    expect(body.request.path).toBe("/in/shop");
    expect(body.request.headers[0]).toEqual(["content-type", "application/json"]);
    expect(body.request.headers[2][1]).toBe("[redacted: 14 chars]");
    expect(JSON.parse(body.request.body).id).toBe(e.dedupeKey);
    expect(Buffer.from(body.request.bodyBase64, "base64").toString()).toBe(body.request.body);
    const audit = body.deliveries.find((d: any) => d.target === "audit");
    expect(audit.status).toBe("failed");
    expect(audit.attempts).toEqual([
      { at: new Date(e.receivedAt + 50).toISOString(), status: 500, durationMs: 310, error: "HTTP 500", responseExcerpt: "Internal Server Error", request: null },
    ]);
  });

  test("the body download is the exact bytes as an attachment", async () => {
    const e = seeded[10]!;
    const res = await api(`/api/events/${e.id}/body`);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    // A JSON body downloads as .json (the seeded events are application/json), served as bytes all the same.
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${e.id}.json"`);
    expect(JSON.parse(await res.text()).id).toBe(e.dedupeKey);
  });

  test("unknown or malformed ids answer 404", async () => {
    for (const path of ["/api/events/evt_00000000000000000000000000", "/api/events/garbage", "/api/events/evt_00000000000000000000000000/body"]) {
      const res = await api(path);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
    expect((await api("/api/events/evt_00000000000000000000000000", { method: "DELETE" })).status).toBe(404);
    expect((await api("/api/events/evt_00000000000000000000000000/redeliver", { method: "POST" })).status).toBe(404);
  });
});

describe("the events page's count", () => {
  test("an older page counts every event the filter matches, as the bulk action it links to acts on", async () => {
    const html = async (query: string) => await (await api(`/${query}`)).text();
    const first = await html("?source=shop");
    const matched = /id="matched"[^>]*>([^<]+)</.exec(first)![1]!;
    const next = /href="\/\?([^"]*cursor=[^"]+)" rel="next"/.exec(first)![1]!.replaceAll("&amp;", "&");
    const older = await html(`?${next}`);
    expect(/id="matched"[^>]*>([^<]+)</.exec(older)![1]).toBe(matched);
    expect(older).toContain('href="/bulk/redeliver?source=shop"');
  });
});

describe("sources, targets and rejections", () => {
  test("sources list endpoint URLs and counts", async () => {
    const body = (await (await api("/api/sources")).json()) as { sources: any[] };
    expect(body.sources.map((s) => s.name)).toEqual(["shop", "billing"]);
    expect(body.sources[1].endpoint).toBe("http://127.0.0.1:0/in/billing");
    expect(body.sources[1].received).toBe(seeded.filter((e) => e.source === "billing").length);
    expect(body.sources[1].mismatchWarning).toBeNull();
  });

  test("targets show queue depth, success rate and last error", async () => {
    const body = (await (await api("/api/targets")).json()) as { targets: any[] };
    const orders = body.targets.find((t) => t.name === "orders");
    const open = seeded.filter((e) => ["pending", "paused"].includes(e.statuses.orders!)).length;
    expect(orders).toMatchObject({ kind: "push", url: "http://127.0.0.1:9/hooks", enabled: true, queueDepth: open });
    expect(orders.queue.failed).toBe(seeded.filter((e) => e.statuses.orders === "failed").length);
  });

  test("rejections are listed newest first with headers masked", async () => {
    for (const [i, reason] of ["bad_signature", "missing_signature"].entries())
      await relay.store.reads.execute({
        sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers, body_excerpt) VALUES (?, 'billing', ?, ?, 'POST', '/in/billing', ?, ?)",
        args: [`rej_0000000000000000000000000${i}`, START + i, reason, JSON.stringify([["x-webhook-secret", "wrong"]]), new TextEncoder().encode("{}")],
      });
    const body = (await (await api("/api/rejections")).json()) as { rejections: any[] };
    expect(body.rejections.map((r) => r.reason)).toEqual(["missing_signature", "bad_signature"]);
    expect(body.rejections[0].headers).toEqual([["x-webhook-secret", "[redacted: 5 chars]"]]);
    expect(body.rejections[0].bodyExcerpt).toBe("{}");
    // Filtered by reason (alone or with the source); a reason that is not a code is a 400.
    const only = (await (await api("/api/rejections?reason=bad_signature")).json()) as { rejections: any[] };
    expect(only.rejections.map((r) => r.reason)).toEqual(["bad_signature"]);
    const both = (await (await api("/api/rejections?source=billing&reason=missing_signature")).json()) as { rejections: any[] };
    expect(both.rejections.map((r) => r.reason)).toEqual(["missing_signature"]);
    const elsewhere = (await (await api("/api/rejections?source=shop&reason=missing_signature")).json()) as { rejections: any[] };
    expect(elsewhere.rejections).toEqual([]);
    const bad = await api("/api/rejections?reason=Bad%20one");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toBe("reason: expected a reason code like bad_signature");
    // The page: the reason in its filter form, each badge a link to its reason.
    const page = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/rejections?reason=bad_signature", { headers: auth }))).text();
    expect(page).toContain('name="reason" value="bad_signature"');
    expect(page).toContain('href="/rejections?reason=bad_signature"');
    expect(page).not.toContain("missing_signature</span>");
  });

  test("rejections are filtered by the time they were received (since, until), the page keeping both in its form and pager", async () => {
    const at = (hour: number) => Date.UTC(2026, 0, 1, hour);
    for (const hour of [10, 11, 12])
      await relay.store.reads.execute({
        sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers, body_excerpt) VALUES (?, 'shop', ?, 'stale_timestamp', 'POST', '/in/shop', '[]', NULL)",
        args: [makeId("rej", at(hour), new Uint8Array(10).fill(hour)), at(hour)],
      });
    const hours = async (q: string) =>
      ((await (await api(`/api/rejections?reason=stale_timestamp&${q}`)).json()) as { rejections: { receivedAt: number }[] }).rejections.map((r) => new Date(r.receivedAt).getUTCHours());
    expect(await hours("")).toEqual([12, 11, 10]);
    expect(await hours("since=2026-01-01T10:30:00Z")).toEqual([12, 11]);
    expect(await hours(`until=${at(12)}`)).toEqual([11, 10]);
    expect(await hours("since=2026-01-01T10:30:00Z&until=2026-01-01T12:00:00Z")).toEqual([11]);
    // At the bound: since takes a request received at that very millisecond, until leaves it out.
    expect(await hours(`since=${at(11)}&until=${at(11) + 1}`)).toEqual([11]);
    const inverted = await api(`/api/rejections?since=${at(12)}&until=${at(10)}`);
    expect(inverted.status).toBe(400);
    expect(((await inverted.json()) as any).error.message).toStartWith(`since: ${at(12)} is not before until ${at(10)}: no rejection could match`);
    expect((await api("/api/rejections?since=yesterday")).status).toBe(400);
    // The page: both in the form, kept by the pager and by a reason badge's link.
    const page = await (await relay.app.adminApp.handle(new Request(`http://127.0.0.1/rejections?since=2026-01-01T09:00:00Z&until=2026-01-01T13:00:00Z&limit=1`, { headers: auth }))).text();
    expect(page).toContain('name="since" value="2026-01-01T09:00:00Z"');
    expect(page).toContain('name="until" value="2026-01-01T13:00:00Z"');
    expect(page).toContain("since=2026-01-01T09%3A00%3A00Z&amp;until=2026-01-01T13%3A00%3A00Z&amp;cursor=");
    expect(page).toContain('href="/rejections?reason=stale_timestamp&amp;since=2026-01-01T09%3A00%3A00Z&amp;until=2026-01-01T13%3A00%3A00Z"');
  });

  test("rejections are found by text in their headers, body excerpt or query string (sent encoded), case aside; an erased one no longer", async () => {
    const put = (id: string, path: string, headers: [string, string][], body: string | Uint8Array) =>
      relay.store.reads.execute({
        sql: "INSERT INTO rejections (id, source, received_at, reason, method, path, headers, body_excerpt) VALUES (?, 'shop', ?, 'bad_signature', 'POST', ?, ?, ?)",
        args: [id, START, path, JSON.stringify(headers), typeof body === "string" ? new TextEncoder().encode(body) : body],
      });
    await put("rej_1000000000000000000000000A", "/in/shop", [["x-customer", "Carol@Example.com"]], "{}");
    await put("rej_1000000000000000000000000B", "/in/shop", [], `{"email":"carol@example.com","pad":"${"x".repeat(100)}"}`);
    await put("rej_1000000000000000000000000C", "/in/shop?email=carol%40example.com", [], "{}");
    await put("rej_1000000000000000000000000D", "/in/shop?email=dave%40example.com", [["x-customer", "dave@example.com"]], "{}");
    // A body that is not UTF-8 is passed over, not a failed search.
    await put("rej_1000000000000000000000000E", "/in/shop", [], new Uint8Array([0xff, 0xfe, 0x00, 0xc3]));
    const found = async (q: string) => ((await (await api(`/api/rejections?${q}`)).json()) as { rejections: { id: string }[] }).rejections.map((r) => r.id);
    expect(await found("text=carol%40example.com")).toEqual(["rej_1000000000000000000000000C", "rej_1000000000000000000000000B", "rej_1000000000000000000000000A"]);
    expect(await found("source=shop&text=CAROL@example.com&limit=2")).toEqual(["rej_1000000000000000000000000C", "rej_1000000000000000000000000B"]);
    expect(await found("text=nobody@example.com")).toEqual([]);
    expect((await api(`/api/rejections/rej_1000000000000000000000000C`, { method: "DELETE" })).status).toBe(200);
    expect(await found("text=carol%40example.com")).toEqual(["rej_1000000000000000000000000B", "rej_1000000000000000000000000A"]);
    // The page: the text in its filter box and in its pager's links.
    const page = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/rejections?text=carol%40example.com&limit=1", { headers: auth }))).text();
    expect(page).toContain('name="text" value="carol@example.com"');
    expect(page).toContain("text=carol%40example.com&amp;cursor=");
    // A rejection that is gone (purged, or never was): its 404 page leads back to the rejections.
    const missing = await relay.app.adminApp.handle(new Request("http://127.0.0.1/rejections/rej_0000000000000000000000000Z", { headers: auth }));
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('<a href="/rejections">Back to rejections</a>');
  });
});
