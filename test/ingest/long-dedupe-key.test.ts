/**
 * A dedupe key is stored as given up to 256 bytes; past that, as a marker and
 * the SHA-256 of the key. Dedupe stays exact: the same long key dedupes, two
 * long keys that differ anywhere do not. The event type is capped at 200
 * characters.
 */
import { afterEach, expect, test } from "bun:test";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const CONFIG = `
[server]
max_body = "4mb"
[[sources]]
name = "shop"
verify = { scheme = "none" }
dedupe = { key = ["$.id"] }
event_type = "header:x-event"
`;

let relay: TestRelay;
afterEach(async () => relay?.close());

const MB = 1024 * 1024;
// Long values are summarised, so that a failing assertion does not print megabytes.
const storedKeys = async () =>
  (await rows(relay.store, "SELECT dedupe_key FROM events ORDER BY id")).map((r) => String(r.dedupe_key)).map((k) => (k.length > 300 ? `(${k.length} chars)` : k));
const post = async (id: string, extra = "", headers: Record<string, string> = {}) => {
  const res = await relay.post("shop", JSON.stringify({ id, extra }), headers);
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; duplicate?: boolean };
};

test("a 1 MB dedupe key is stored as a short hash marker and still dedupes exactly", async () => {
  relay = await startTestRelay(CONFIG);
  const longA = "a".repeat(MB);
  const longB = "a".repeat(MB - 1) + "b"; // differs only in the last byte
  const first = await post(longA);
  const again = await post(longA, "a retry");
  const other = await post(longB);
  expect(again).toEqual({ id: first.id, duplicate: true });
  expect(other.duplicate).toBeUndefined();
  expect(other.id).not.toBe(first.id);

  const keys = await storedKeys();
  expect(keys).toHaveLength(2);
  for (const key of keys) expect(key).toMatch(/^key-sha256:[0-9a-f]{64}$/);
  expect(keys[0]).not.toBe(keys[1]);

  // The events list (API and page) no longer carries the megabytes of the key.
  const list = await relay.app.adminApp.handle(new Request("http://127.0.0.1/api/events"));
  expect((await list.text()).length).toBeLessThan(10_000);
  const page = await relay.app.adminApp.handle(new Request("http://127.0.0.1/"));
  expect((await page.text()).length).toBeLessThan(100_000);
});

test("a key of exactly 256 bytes is kept as given; one byte more is hashed", async () => {
  relay = await startTestRelay(CONFIG);
  const atLimit = "é".repeat(128); // 256 bytes in UTF-8
  const overLimit = atLimit + "x";
  await post(atLimit);
  await post(overLimit);
  const keys = await storedKeys();
  expect(keys[0]).toBe(atLimit);
  expect(keys[1]).toMatch(/^key-sha256:[0-9a-f]{64}$/);
});

test("a short key that imitates the hash marker does not collide with the long key it names", async () => {
  relay = await startTestRelay(CONFIG);
  const long = "z".repeat(1000);
  const first = await post(long);
  const [stored] = await storedKeys();
  expect(stored).toMatch(/^key-sha256:[0-9a-f]{64}$/);
  const imitation = await post(stored!);
  expect(imitation.duplicate).toBeUndefined();
  expect(imitation.id).not.toBe(first.id);
});

test("an event type is cut to its first 200 characters", async () => {
  relay = await startTestRelay(CONFIG);
  const { id } = await post("e1", "", { "x-event": "t".repeat(100_000) });
  const [ev] = await rows(relay.store, "SELECT event_type FROM events WHERE id = ?", [id]);
  expect(String(ev!.event_type)).toBe("t".repeat(200));
});
