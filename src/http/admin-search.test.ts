import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startSearchIndexer, type SearchIndexer } from "../ingest/search-indexer.ts";
import { silentLogger } from "../log/logger.ts";
import { ADMIN_TOKEN, adminToml } from "../../test/support/admin-fixture.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";

// The admin fixtures' relay (sources shop and billing), with [store] search set.
const toml = (search: boolean) => `${adminToml()}\n[store]\nsearch = ${search}\n`;

let relay: TestRelay;
let indexer: SearchIndexer;
const ids = { json: "", header: "", form: "", later: "" };
const get = (path: string, r = relay) => r.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
const found = async (query: string): Promise<string[]> => {
  const res = await get(`/api/events?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { events: { id: string }[] }).events.map((e) => e.id);
};
const stored = async (res: Response) => {
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
};

beforeAll(async () => {
  relay = await startTestRelay(toml(true));
  indexer = startSearchIndexer({ store: relay.store, log: silentLogger, maxDecodedBytes: 1 << 20, everyMs: 60_000 });
  ids.json = await stored(await relay.post("shop", JSON.stringify({ id: "ord_1", type: "charge.refunded", data: { reason: "duplicate charge", currency: "EUR" }, zanzibar_flag: 1 })));
  ids.header = await stored(await relay.post("shop", JSON.stringify({ id: "ord_2", type: "order.paid" }), { "x-shop-domain": "acme-widgets.example" }));
  ids.form = await stored(
    await relay.post("billing", "MessageSid=SM123&Body=bonjour+tout+le+monde&FromCity=Lyon", {
      "content-type": "application/x-www-form-urlencoded",
      "x-webhook-secret": "billing-secret",
    }),
  );
  ids.later = await stored(await relay.post("shop", JSON.stringify({ id: "ord_3", type: "charge.refunded", data: { reason: "fraud", currency: "EUR" } })));
  await relay.store.writer.write([{ sql: "UPDATE deliveries SET status = 'failed' WHERE event_id = ?", args: [ids.json] }]);
  await indexer.drain();
});
afterAll(async () => {
  await indexer.stop();
  await relay.close();
});

describe("GET /api/events?text=", () => {
  test("finds words of a JSON string value, a JSON key, a header value and a form field", async () => {
    expect(await found("text=duplicate")).toEqual([ids.json]);
    expect(await found("text=zanzibar_flag")).toEqual([ids.json]);
    expect(await found("text=acme-widgets.example")).toEqual([ids.header]);
    expect(await found("text=bonjour+monde")).toEqual([ids.form]);
    expect(await found("text=FromCity")).toEqual([ids.form]);
  });

  test("words that are in no event find nothing, and every word must be there", async () => {
    expect(await found("text=chargeback")).toEqual([]);
    expect(await found("text=duplicate+fraud")).toEqual([]);
    expect(await found("text=ord_1+order.paid")).toEqual([]);
  });

  test("matches come newest first and combine with the source and status filters", async () => {
    expect(await found("text=refunded+EUR")).toEqual([ids.later, ids.json]);
    expect(await found("text=EUR&source=billing")).toEqual([]);
    expect(await found("text=EUR&source=shop&status=failed")).toEqual([ids.json]);
    expect(await found("text=EUR&status=pending")).toEqual([ids.later]);
  });

  test("text with no letters or digits answers 400 with the reason", async () => {
    const res = await get("/api/events?text=%2B%2B%2B");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "invalid_request", message: "text: no words to search for (letters or digits)" } });
  });

  test("an erased event is no longer found by its words", async () => {
    const id = await stored(await relay.post("shop", JSON.stringify({ id: "ord_9", note: "forget-me-please" })));
    await indexer.drain();
    expect(await found("text=forget-me-please")).toEqual([id]);
    const res = await relay.app.adminApp.handle(new Request(`http://127.0.0.1/api/events/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    expect(res.status).toBe(200);
    expect(await found("text=forget-me-please")).toEqual([]);
  });
});

describe("the events page's search box", () => {
  const rowsOf = async (q: string) => {
    const res = await get(`/?q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(200);
    return [...(await res.text()).matchAll(/href="\/events\/(evt_[0-9A-Z]{26})"/g)].map((m) => m[1]);
  };

  test("finds an event by a word of its body, by its id and by its exact dedupe key", async () => {
    expect(await rowsOf("bonjour")).toEqual([ids.form]);
    expect(await rowsOf(ids.header)).toEqual([ids.header]);
    expect(await rowsOf("ord_3")).toEqual([ids.later]);
  });
});

describe("[store] search = false", () => {
  test("text= answers 400 saying search is off, and the box searches ids and dedupe keys as before", async () => {
    const off = await startTestRelay(toml(false));
    try {
      const id = await stored(await off.post("shop", JSON.stringify({ id: "ord_off", note: "unsearchable" })));
      const res = await get("/api/events?text=unsearchable", off);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: "search_off", message: "text: full-text search is off ([store] search = false)" } });
      const page = await (await get("/?q=ord_of", off)).text();
      expect(page).toContain(`href="/events/${id}"`);
    } finally {
      await off.close();
    }
  });
});
