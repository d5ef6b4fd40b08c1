import { afterEach, expect, test } from "bun:test";
import { onPostgres } from "../support/test-store.ts";
import { createHmac } from "node:crypto";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";
import { maskPathQuery } from "../../src/core/header-mask.ts";

const SECRET = "whsec_k8x2_ploints_demo";
const sign = (body: string | Uint8Array) => createHmac("sha256", SECRET).update(body).digest("hex");

const CONFIG = `
[server]
max_body = "1kb"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${SECRET}" }
[[sources]]
name = "points"
verify = { preset = "points", secret = "pts_secret" }
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/hooks"
signing = { secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
[[routes]]
from = "ploints"
to = ["orders"]
event_types = ["points.*"]
`;

let relay: TestRelay;
afterEach(async () => relay?.close());

test("a signed request is stored byte-exact with one pending delivery and answered with its id", async () => {
  relay = await startTestRelay(CONFIG);
  const body = '{"id":"evt_1","type":"points.earned","name":"ë Ñ ú ✓"}\n';
  const res = await relay.post("ploints", body, { "x-ploints-signature": sign(body) });
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: string };
  expect(id).toMatch(/^evt_/);
  const [ev] = await rows(relay.store, "SELECT * FROM events WHERE id = ?", [id]);
  expect(new Uint8Array(ev!.body as ArrayBuffer)).toEqual(new TextEncoder().encode(body));
  expect(ev!.event_type).toBe("points.earned");
  expect(ev!.dedupe_key).toBe("evt_1");
  const dl = await rows(relay.store, "SELECT target, status FROM deliveries WHERE event_id = ?", [id]);
  expect(dl).toEqual([{ target: "orders", status: "pending" }] as never);
});

test("events received together, many in one millisecond, get ids in the order they were stored", async () => {
  relay = await startTestRelay(CONFIG);
  const bodies = Array.from({ length: 300 }, (_, i) => `{"id":"evt_burst_${i}","type":"points.earned"}`);
  const answers = await Promise.all(bodies.map((b) => relay.post("ploints", b, { "x-ploints-signature": sign(b) })));
  expect(answers.map((r) => r.status)).toEqual(bodies.map(() => 200));
  // Stored order: SQLite's rowid, PostgreSQL's order of the deliveries' sequence (written with their events).
  const stored = onPostgres
    ? await rows(relay.store, "SELECT event_id AS id FROM deliveries ORDER BY seq")
    : await rows(relay.store, "SELECT id FROM events ORDER BY rowid");
  const ids = stored.map((r) => String(r.id));
  expect(ids).toHaveLength(300);
  const perMs = new Map<string, number>();
  for (const id of ids) perMs.set(id.slice(4, 14), (perMs.get(id.slice(4, 14)) ?? 0) + 1);
  expect(Math.max(...perMs.values())).toBeGreaterThan(1); // the test means something only if milliseconds were shared
  expect([...ids].sort()).toEqual(ids);
});

test("an event type outside the route's globs is stored but not routed", async () => {
  relay = await startTestRelay(CONFIG);
  const body = '{"id":"evt_2","type":"customer.created"}';
  const res = await relay.post("ploints", body, { "x-ploints-signature": sign(body) });
  const { id } = (await res.json()) as { id: string };
  expect(await rows(relay.store, "SELECT * FROM deliveries WHERE event_id = ?", [id])).toHaveLength(0);
});

test("a bad signature gets 401 with a reason, is recorded and stores no event", async () => {
  relay = await startTestRelay(CONFIG);
  const res = await relay.post("ploints", '{"id":"x"}', { "x-ploints-signature": sign('{"id":"y"}') });
  expect(res.status).toBe(401);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe("bad_signature");
  await relay.store.writer.flushed();
  // Kept as the sender got it: the operator reads the same reason in the UI.
  expect(await rows(relay.store, "SELECT reason, message FROM rejections")).toEqual([{ reason: "bad_signature", message: error.message }] as never);
  expect(await rows(relay.store, "SELECT rejected FROM source_counters WHERE source = 'ploints'")).toEqual([{ rejected: 1 }] as never);
  expect(await rows(relay.store, "SELECT id FROM events")).toHaveLength(0);
});

test("the same Points (order.id, event) twice is one event, both answered 200 with the same id", async () => {
  relay = await startTestRelay(CONFIG);
  const body = JSON.stringify({ event: "approved", order: { id: "550e8400-e29b-41d4-a716-446655440000" } });
  const headers = { "x-webhook-secret": "pts_secret", "x-webhook-event": "approved" };
  const a = await relay.post("points", body, headers);
  const b = await relay.post("points", body.replace("{", '{ "retry": 1, '), headers);
  expect(a.status).toBe(200);
  expect(b.status).toBe(200);
  const ja = (await a.json()) as { id: string };
  const jb = (await b.json()) as { id: string; duplicate?: boolean };
  expect(jb.id).toBe(ja.id);
  expect(jb.duplicate).toBe(true);
  expect(await rows(relay.store, "SELECT duplicates FROM events")).toEqual([{ duplicates: 1 }] as never);
  const other = await relay.post("points", body, { ...headers, "x-webhook-event": "cancelled" });
  expect(((await other.json()) as { id: string }).id).not.toBe(ja.id);
  // Without the header the body's "event" names the type, and is the key's event.
  const bare = await relay.post("points", JSON.stringify({ event: "refunded", order: { id: "o-2" } }), { "x-webhook-secret": "pts_secret" });
  const [t] = await rows(relay.store, "SELECT event_type, dedupe_key FROM events WHERE id = ?", [((await bare.json()) as { id: string }).id]);
  expect(t).toEqual({ event_type: "refunded", dedupe_key: '["o-2","refunded"]' } as never);
});

test("a flood of bad signatures is counted in full and kept ten a second: the sources API and page say both", async () => {
  relay = await startTestRelay(CONFIG);
  const sent = 40;
  for (let i = 0; i < sent; i++) expect((await relay.post("ploints", `{"id":"f${i}"}`, { "x-ploints-signature": "00" })).status).toBe(401);
  await relay.store.writer.flushed();
  const res = await relay.app.adminApp.handle(new Request("http://127.0.0.1/api/sources"));
  const ploints = ((await res.json()) as { sources: { name: string; rejected: number; rejectedKept: number }[] }).sources.find((s) => s.name === "ploints")!;
  expect(ploints.rejected).toBe(sent);
  // Within the second or two the flood took: at most ten a second kept.
  expect(ploints.rejectedKept).toBeGreaterThanOrEqual(10);
  expect(ploints.rejectedKept).toBeLessThan(sent);
  // The rows kept stand for every one refused (rejections.represents): the mismatch figure is the real one.
  const stoodFor = await rows(relay.store, "SELECT coalesce(sum(represents), 0) AS n FROM rejections WHERE source = 'ploints'");
  expect(Number(stoodFor[0]!.n)).toBe(sent);
  expect(((await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/api/sources"))).json()) as { sources: { name: string; recent: { mismatches: number } }[] }).sources.find((s) => s.name === "ploints")!.recent.mismatches).toBe(sent);
  const page = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/sources"))).text();
  expect(page).toContain(`${sent} <span class="muted" title="rejected requests are kept at most 10 a second per source; all are counted">(${ploints.rejectedKept} kept)</span>`);
  // The rejections page's reason filter offers the reasons stored.
  const rejections = await (await relay.app.adminApp.handle(new Request("http://127.0.0.1/rejections"))).text();
  expect(rejections).toContain('<datalist id="rejection-reasons"><option value="bad_signature"></option></datalist>');
});

test("malformed JSON with a valid signature is stored and keyed by the body hash", async () => {
  relay = await startTestRelay(CONFIG);
  const body = '{"id": "evt_3", "type": "points.earned",';
  const res = await relay.post("ploints", body, { "x-ploints-signature": sign(body) });
  expect(res.status).toBe(200);
  const [ev] = await rows(relay.store, "SELECT dedupe_key, event_type FROM events");
  expect(String(ev!.dedupe_key)).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(ev!.event_type).toBeNull();
});

test("a body over max_body gets 413 and nothing is stored, with or without Content-Length", async () => {
  relay = await startTestRelay(CONFIG);
  const big = "x".repeat(2048);
  const res = await relay.post("ploints", big, { "x-ploints-signature": sign(big) });
  expect(res.status).toBe(413);
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("y".repeat(512)));
      c.close();
    },
  });
  const chunked = await relay.app.publicApp.handle(
    new Request("http://127.0.0.1/in/ploints", { method: "POST", body: stream, headers: { "x-ploints-signature": "00" } }),
  );
  expect(chunked.status).toBe(413);
  expect(await rows(relay.store, "SELECT id FROM events")).toHaveLength(0);
});

test("unknown sources get 404, a HEAD 200, other methods 405", async () => {
  relay = await startTestRelay(CONFIG);
  expect((await relay.post("nope", "{}")).status).toBe(404);
  const get = await relay.app.publicApp.handle(new Request("http://127.0.0.1/in/ploints"));
  expect(get.status).toBe(405);
  expect(get.headers.get("allow")).toBe("POST");
  const propfind = await relay.app.publicApp.handle(new Request("http://127.0.0.1/in/ploints", { method: "PROPFIND" }));
  expect(propfind.status).toBe(405);
  const other = await relay.app.publicApp.handle(new Request("http://127.0.0.1/other"));
  expect(other.status).toBe(404);
  expect(((await other.json()) as { error: { code: string } }).error.code).toBe("not_found");
  // A provider checking the URL with a HEAD before it registers it (Trello) gets 200; nothing is stored.
  const head = await relay.app.publicApp.handle(new Request("http://127.0.0.1/in/ploints", { method: "HEAD" }));
  expect([head.status, head.headers.get("allow")]).toEqual([200, "POST"]);
  expect((await relay.app.publicApp.handle(new Request("http://127.0.0.1/in/nope", { method: "HEAD" }))).status).toBe(404);
  expect(await rows(relay.store, "SELECT id FROM events")).toHaveLength(0);
});

test("a store locked by another writer past the busy timeout answers 503 with Retry-After, never 200", async () => {
  relay = await startTestRelay(CONFIG, { busyTimeoutMs: 200 });
  // Another connection holds the write lock, as another process would (on PostgreSQL: a lock on the events table).
  const lock = await relay.store.reads.transaction("write");
  if (onPostgres) await lock.execute("LOCK TABLE events IN EXCLUSIVE MODE");
  const body = '{"id":"evt_locked","type":"points.earned"}';
  const res = await relay.post("ploints", body, { "x-ploints-signature": sign(body) });
  expect(res.status).toBe(503);
  expect(res.headers.get("retry-after")).toBeTruthy();
  await lock.rollback();
  expect(await rows(relay.store, "SELECT id FROM events")).toHaveLength(0);
  const again = await relay.post("ploints", body, { "x-ploints-signature": sign(body) });
  expect(again.status).toBe(200);
});

test("GET verification challenges are echoed as inert text and never stored; a wrong hub token is refused", async () => {
  relay = await startTestRelay(CONFIG);
  const get = (q: string) => relay.app.publicApp.handle(new Request(`http://127.0.0.1/in/ploints?${q}`));
  const dropbox = await get("challenge=abc123");
  expect(dropbox.status).toBe(200);
  expect(await dropbox.text()).toBe("abc123");
  expect(dropbox.headers.get("x-content-type-options")).toBe("nosniff");
  expect(dropbox.headers.get("content-type")).toStartWith("text/plain");
  const hub = await get(`hub.mode=subscribe&hub.challenge=c9&hub.verify_token=${encodeURIComponent(SECRET)}`);
  expect([hub.status, await hub.text()]).toEqual([200, "c9"]);
  const wrong = await get("hub.mode=subscribe&hub.challenge=c9&hub.verify_token=nope-guess");
  expect(wrong.status).toBe(403);
  expect(await rows(relay.store, "SELECT id FROM events")).toHaveLength(0);
  // The wrong token is a guess at the source's secret: recorded like a bad signature, the guess itself not kept.
  const rejected = async () => rows(relay.store, "SELECT reason, path FROM rejections");
  for (let i = 0; i < 100 && (await rejected()).length === 0; i++) await Bun.sleep(20);
  const [r] = await rejected();
  expect(r).toMatchObject({ reason: "bad_verify_token" });
  expect(String(r!.path)).toContain(`hub.verify_token=${new URLSearchParams({ t: "[redacted: 10 chars]" }).toString().slice(2)}`);
  // Shown as stored, its length that of the guess (not of the stored mask, measured again).
  expect(maskPathQuery(String(r!.path))).toContain("hub.verify_token=[redacted: 10 chars]");
  expect(String(r!.path)).not.toContain("nope-guess");
  // A POST rejected for its signature that carries the token in its query keeps it no more.
  await relay.app.publicApp.handle(
    new Request(`http://127.0.0.1/in/ploints?hub.verify_token=${encodeURIComponent(SECRET)}`, { method: "POST", body: "{}", headers: { "x-ploints-signature": "00" } }),
  );
  for (let i = 0; i < 100 && (await rejected()).length < 2; i++) await Bun.sleep(20);
  const paths = (await rejected()).map((x) => String(x.path));
  expect(paths).toHaveLength(2);
  expect(paths.join(" ")).not.toContain(encodeURIComponent(SECRET));
  expect(paths.join(" ")).not.toContain(SECRET);
});

test("a source's verify_token is what a hub challenge must present, so the signing secret never has to travel in a URL", async () => {
  const token = "meta-verify-token-chosen-by-the-operator";
  relay = await startTestRelay(CONFIG.replace(`verify = { preset = "ploints", secret = "${SECRET}" }`, `verify = { preset = "ploints", secret = "${SECRET}" }\nverify_token = "env:META_VERIFY_TOKEN"`), {
    env: { META_VERIFY_TOKEN: token },
  });
  const get = (t: string) => relay.app.publicApp.handle(new Request(`http://127.0.0.1/in/ploints?hub.mode=subscribe&hub.challenge=c7&hub.verify_token=${encodeURIComponent(t)}`));
  const ok = await get(token);
  expect([ok.status, await ok.text()]).toEqual([200, "c7"]);
  // The signing secret is not a verify token once one is set.
  expect((await get(SECRET)).status).toBe(403);
});

test("a rejection's message says what was wrong in words, naming the expected header", async () => {
  relay = await startTestRelay(CONFIG);
  const missing = await relay.post("ploints", '{"id":"x"}');
  expect(await missing.json()).toEqual({ error: { code: "missing_signature", message: "missing X-Ploints-Signature header" } });
  const wrong = await relay.post("ploints", '{"id":"x"}', { "x-ploints-signature": sign('{"id":"y"}') });
  expect(await wrong.json()).toEqual({
    error: { code: "bad_signature", message: "X-Ploints-Signature does not match: the request was not signed with the configured secret" },
  });
});

test("Shopify's headers without the X- prefix (its newer deliveries) dedupe and type the event as the prefixed ones do", async () => {
  const secret = "shpss_demo_secret";
  relay = await startTestRelay(`
[[sources]]
name = "shop"
verify = { preset = "shopify", secret = "${secret}" }
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/hooks"
[[routes]]
from = "shop"
to = ["orders"]
event_types = ["orders/*"]
`);
  const post = (body: string, prefix: string) =>
    relay.post("shop", body, {
      [`${prefix}Shopify-Hmac-Sha256`]: createHmac("sha256", secret).update(body).digest("base64"),
      [`${prefix}Shopify-Topic`]: "orders/create",
      [`${prefix}Shopify-Event-Id`]: `same-event-${prefix}`,
    });
  for (const prefix of ["X-", ""]) {
    const first = (await (await post('{"id":1}', prefix)).json()) as { id: string };
    const again = (await (await post('{"id":1,"retry":true}', prefix)).json()) as { id: string; duplicate?: boolean };
    expect(again).toEqual({ id: first.id, duplicate: true });
    const [ev] = await rows(relay.store, "SELECT event_type, dedupe_key FROM events WHERE id = ?", [first.id]);
    expect(ev).toEqual({ event_type: "orders/create", dedupe_key: `same-event-${prefix}` } as never);
    expect(await rows(relay.store, "SELECT target FROM deliveries WHERE event_id = ?", [first.id])).toEqual([{ target: "orders" }] as never);
  }
});
