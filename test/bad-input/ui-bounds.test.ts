/**
 * Stored requests that are small on the wire but costly to show: a body of
 * deeply nested JSON (a pretty view that indents every level is quadratic in
 * the body) and long dedupe keys, event types and header values (repeated on
 * every row of a list). Through the compiled binary: the pages and the API
 * stay linear in what is stored, lists cut long values, detail pages show them
 * whole, and ingest keeps being acked while a page renders.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeId } from "../../src/core/ids.ts";
import type { RunningBinary } from "../support/binary.ts";
import { adminJson, relayToml, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-ui-bounds-");
let bin: RunningBinary;
beforeAll(async () => {
  bin = await serveBinary(tmp.dir, relayToml({ maxBody: "512kb" }));
});
afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop();
  tmp.remove();
});

const page = async (path: string) => {
  const res = await fetch(`${bin.adminUrl}${path}`);
  expect([path, res.status]).toEqual([path, 200]);
  return res.text();
};

test("a deeply nested JSON body gets an event page linear in its size that says the pretty view is left out, and ingest is acked meanwhile", async () => {
  const depth = 15_000;
  const body = "[".repeat(depth) + "]".repeat(depth); // 30 KB; indented level by level it was a 450 MB page
  const stored = await sendEvent(bin.publicUrl, body);
  expect(stored.status).toBe(200);
  const id = stored.json.id!;

  // An ingest request sent while the page renders is acked like any other.
  const [html, ack] = await Promise.all([page(`/events/${id}`), sendEvent(bin.publicUrl, JSON.stringify({ id: "meanwhile", type: "t" }))]);
  expect(ack.status).toBe(200);
  expect(ack.json.id).toStartWith("evt_");

  expect(html.length).toBeLessThan(4 * body.length + 16_384);
  expect(html).toContain('id="pretty-omitted"');
  expect(html).toMatch(/Pretty JSON view left out: nested deeper than \d+ levels/);
  expect(html).not.toContain('id="pretty-body"');
  // The raw view is still the whole body.
  expect(html).toContain(`<pre class="raw" id="raw-body">${body}</pre>`);

  const api = await fetch(`${bin.adminUrl}/api/events/${id}`);
  const apiText = await api.text();
  expect(apiText.length).toBeLessThan(4 * body.length + 16_384);
  expect(JSON.parse(apiText).request.body).toBe(body);
}, 60_000);

test("a body past 256 KB shows its first 262,144 characters and says the download has it whole; the API has it whole", async () => {
  const body = JSON.stringify({ id: "big-raw", pad: "y".repeat(300_000), end: "TAIL-MARK" });
  const stored = await sendEvent(bin.publicUrl, body);
  expect(stored.status).toBe(200);
  const html = await page(`/events/${stored.json.id}`);
  expect(html).toContain('id="raw-cut"');
  expect(html).toContain("The first 262,144 characters are shown");
  expect(html).not.toContain("TAIL-MARK");
  expect(html.length).toBeLessThan(2 * 262_144 + 65_536);
  const api = (await (await fetch(`${bin.adminUrl}/api/events/${stored.json.id}`)).json()) as { request: { body: string } };
  expect(api.request.body).toBe(body);
});

test("an ordinary JSON body still gets its pretty view, with numbers exactly as sent", async () => {
  const body = '{"id":"plain-1","type":"order.paid","amount":12345678901234567890,"items":[{"sku":"a"},{"sku":"b"}],"empty":{}}';
  const r = await sendEvent(bin.publicUrl, body);
  expect(r.status).toBe(200);
  const html = await page(`/events/${r.json.id}`);
  const pretty = /<pre class="raw" id="pretty-body">([\s\S]*?)<\/pre>/.exec(html)?.[1];
  expect(pretty).toBe(
    [
      "{",
      '  &quot;id&quot;: &quot;plain-1&quot;,',
      '  &quot;type&quot;: &quot;order.paid&quot;,',
      '  &quot;amount&quot;: 12345678901234567890,',
      '  &quot;items&quot;: [',
      "    {",
      '      &quot;sku&quot;: &quot;a&quot;',
      "    },",
      "    {",
      '      &quot;sku&quot;: &quot;b&quot;',
      "    }",
      "  ],",
      '  &quot;empty&quot;: {}',
      "}",
    ].join("\n"),
  );
  expect(html).not.toContain('id="pretty-omitted"');
});

test("long dedupe keys are stored hashed; a long key already in the store is cut in the events list and its API, and shown whole on the event page", async () => {
  const n = 5;
  const long = (i: number, what: string) => `${what}-${i}-`.padEnd(100_000, String.fromCharCode(97 + i));
  // Event types are cut to 200 characters when extracted (core/extract.ts), so they fit a list as they are.
  const type = (i: number) => long(i, "type").slice(0, 200);
  for (let i = 0; i < n; i++) {
    const r = await sendEvent(bin.publicUrl, JSON.stringify({ id: long(i, "key"), type: long(i, "type") }));
    expect(r.status).toBe(200);
  }
  // 49 rows of 1 MB keys were a 104 MB page: keys past 256 bytes are now stored as their hash.
  const hashed = await adminJson(bin.adminUrl, `/api/events?limit=${n}`);
  expect(hashed.events.map((e: { dedupeKey: string }) => e.dedupeKey)).toEqual(Array(n).fill(expect.stringMatching(/^key-sha256:[0-9a-f]{64}$/)));

  // A store written before that cap may still hold a long key: lists cut it, the event page shows it whole.
  const key = long(9, "key");
  const id = makeId("evt", Date.now(), new Uint8Array(10).fill(255));
  const db = new Database(join(tmp.dir, "data", "relay.db"));
  // The relay's own writes (the search indexer after the ack) may hold the lock for a moment.
  db.run("PRAGMA busy_timeout = 5000");
  db.query(
    `INSERT INTO events (id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr)
     VALUES (?, 'p', ?, ?, ?, 'POST', '/in/p', '', '[]', ?, 'application/json', NULL)`,
  ).run(id, type(9), key, Date.now(), new TextEncoder().encode("{}"));
  db.close();

  const list = await page("/");
  expect(list.length).toBeLessThan(64 * 1024);
  expect(list).toContain(key.slice(0, 100));
  expect(list).not.toContain(key.slice(0, 1000));
  expect(list).toContain("…");
  const api = await fetch(`${bin.adminUrl}/api/events?limit=${n + 1}`);
  const apiText = await api.text();
  expect(apiText.length).toBeLessThan(32 * 1024);
  const entry = (JSON.parse(apiText) as { events: { id: string; dedupeKey: string; eventType: string; truncated?: string[] }[] }).events.find((e) => e.id === id)!;
  expect(entry.dedupeKey.endsWith("…")).toBe(true);
  expect(key.startsWith(entry.dedupeKey.slice(0, -1))).toBe(true);
  expect(entry.eventType).toBe(type(9));
  expect(entry.truncated).toEqual(["dedupeKey"]);

  // The detail page and the detail API carry the whole value.
  const detail = await page(`/events/${id}`);
  expect(detail).toContain(`<dd class="mono wrap" id="dedupe-key">${key}</dd>`);
  const full = await adminJson(bin.adminUrl, `/api/events/${id}`);
  expect(full.dedupeKey).toBe(key);
  expect(full.truncated).toBeUndefined();

  // A search by the cut key (a prefix) still finds the event.
  const found = await adminJson(bin.adminUrl, `/api/events?q=${encodeURIComponent(entry.dedupeKey.slice(0, -1))}`);
  expect(found.events.map((e: { id: string }) => e.id)).toEqual([id]);
}, 60_000);

test("long header values are cut in the rejections list and shown whole on the rejection's own page and in the API", async () => {
  const value = "v".repeat(8_000);
  const res = await fetch(`${bin.publicUrl}/in/p`, { method: "POST", body: "{}", headers: { "x-ploints-signature": "00", "x-long": value } });
  expect(res.status).toBe(401);
  // Rejections are written off the response path.
  await waitFor("the rejection to be stored", async () => (await adminJson(bin.adminUrl, "/api/rejections")).rejections.length > 0);

  const list = await page("/rejections");
  expect(list).not.toContain(value.slice(0, 1000));
  expect(list).toContain(`${"v".repeat(200)}`);
  const rejectionId = /href="\/rejections\/(rej_[0-9A-Z]{26})"/.exec(list)?.[1];
  expect(rejectionId).toBeDefined();

  const listApi = await adminJson(bin.adminUrl, "/api/rejections");
  const entry = listApi.rejections.find((r: { id: string }) => r.id === rejectionId);
  const header = entry.headers.find(([n]: [string]) => n === "x-long");
  expect(header[1].endsWith("…")).toBe(true);
  expect(header[1].length).toBeLessThan(1000);
  expect(entry.truncated).toEqual(["headers"]);

  const detail = await page(`/rejections/${rejectionId}`);
  expect(detail).toContain(value);
  const full = await adminJson(bin.adminUrl, `/api/rejections/${rejectionId}`);
  expect(full.headers.find(([n]: [string]) => n === "x-long")[1]).toBe(value);

  // The one-line reason the sender got is kept with the rejection, and shown on both pages as text.
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.message.length).toBeGreaterThan(10);
  expect(full).toMatchObject({ reason: error.code, message: error.message });
  expect(entry.message).toBe(error.message);
  const asText = Bun.escapeHTML(error.message);
  expect(detail).toContain(`<p class="reason">${asText}</p>`);
  expect(list).toContain(`<span class="reason">${asText}</span>`);
}, 60_000);

test("a filter out of shape is named in words, on the page it was meant for or with a way back to it", async () => {
  const at = async (path: string) => {
    const res = await fetch(`${bin.adminUrl}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const since = await at(`/?since=${"9".repeat(61)}`);
  expect(since.status).toBe(400);
  expect(since.text).toContain("since: must be ms since epoch, an ISO 8601 date or time (UTC unless it names its zone) or a duration back from now like &quot;2h&quot;");
  expect(since.text).not.toContain("Invalid length");
  expect((await at("/?source=Bogus!")).text).toContain("source: must be a source name (lower-case letters, digits, _ and -)");
  // The rejections page, as the events page: the error above its form, which keeps every filter as typed.
  const reason = await at("/rejections?reason=NOT-A-CODE&text=alice&since=nope");
  expect(reason.status).toBe(400);
  expect(reason.text).toContain("expected a reason code like bad_signature");
  expect(reason.text).toContain('name="reason" value="NOT-A-CODE"');
  expect(reason.text).toContain('name="text" value="alice"');
  expect(reason.text).toContain('name="since" value="nope"');
  expect(reason.text).not.toContain('class="rejections"'); // no list under a filter it could not take
  const since2 = await at("/rejections?since=yesterday&until=1h");
  expect(since2.text).toContain("since: must be ms since epoch");
  expect(since2.text).toContain('name="until" value="1h"');
  // The top navigation is there, the page it was meant for marked.
  expect(reason.text).toContain('<a href="/rejections" class="active" aria-current="page">Rejections</a>');
  expect((await at("/bulk/cancel?status=bogus")).text).toContain('<a href="/bulk/cancel">The same page without it</a>');
});

test("a search of only symbols or emoji that finds nothing says why", async () => {
  const res = await fetch(`${bin.adminUrl}/?q=${encodeURIComponent("🎉!!")}`);
  expect(await res.text()).toContain("The search finds words, ids and dedupe keys: one of only symbols or emoji has none to look for.");
});
