/**
 * Headers that carry a source's credential are stored redacted, in events and
 * rejections alike: whatever their name, and also the value a provider tried
 * during a rotation (the other side's new secret). Signatures stay visible.
 */
import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const HOOK_KEY = "hook-key-current-0123";
const HOOK_KEY_NEW = "hook-key-rotated-4567-new";
const BASIC_PASSWORD = "basic-password-89ab";
const POINTS_SECRET = "points-secret-cdef";
const GITLAB_TOKEN = "gitlab-token-1357";
const PLOINTS_SECRET = "ploints-secret-2468";

const CONFIG = `
[[sources]]
name = "hook"
verify = { scheme = "shared-secret", header = "X-Hook-Key", secret = "${HOOK_KEY}" }
[[sources]]
name = "basic"
verify = { scheme = "basic", username = "relay", secret = "${BASIC_PASSWORD}" }
[[sources]]
name = "points"
verify = { preset = "points", secret = "${POINTS_SECRET}" }
[[sources]]
name = "gitlab"
verify = { preset = "gitlab", secret = "${GITLAB_TOKEN}" }
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${PLOINTS_SECRET}" }
`;

const redacted = (secret: string) => `[redacted: ${secret.length} chars]`;
const basic = (password: string) => `Basic ${Buffer.from(`relay:${password}`).toString("base64")}`;

let relay: TestRelay;
afterEach(async () => relay?.close());

async function adminJson(path: string): Promise<any> {
  const res = await relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`));
  expect(res.status).toBe(200);
  return res.json();
}

async function adminHtml(path: string): Promise<string> {
  const res = await relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`));
  expect(res.status).toBe(200);
  return res.text();
}

/** Every stored byte of events and rejections, as text, to look for a secret in. */
async function storedText(): Promise<string> {
  await relay.store.writer.flushed();
  const ev = await rows(relay.store, "SELECT headers FROM events");
  const rej = await rows(relay.store, "SELECT headers FROM rejections");
  return JSON.stringify([...ev, ...rej]);
}

const headerOf = (headers: [string, string][], name: string) => headers.find(([n]) => n === name)?.[1];

test("a shared-secret header with an unsecret-looking name is stored and shown redacted, in events and rejections", async () => {
  relay = await startTestRelay(CONFIG);
  const ok = await relay.post("hook", '{"id":"a"}', { "x-hook-key": HOOK_KEY });
  expect(ok.status).toBe(200);
  const { id } = (await ok.json()) as { id: string };
  // A rotation done on the provider's side first: it sends the new secret, which we reject.
  const bad = await relay.post("hook", '{"id":"b"}', { "x-hook-key": HOOK_KEY_NEW });
  expect(bad.status).toBe(401);

  const stored = await storedText();
  expect(stored).not.toContain(HOOK_KEY);
  expect(stored).not.toContain(HOOK_KEY_NEW);

  const event = await adminJson(`/api/events/${id}`);
  expect(headerOf(event.request.headers, "x-hook-key")).toBe(redacted(HOOK_KEY));
  const { rejections } = await adminJson("/api/rejections");
  expect(headerOf(rejections[0].headers, "x-hook-key")).toBe(redacted(HOOK_KEY_NEW));

  const pages = (await adminHtml(`/events/${id}`)) + (await adminHtml("/rejections"));
  expect(pages).not.toContain(HOOK_KEY);
  expect(pages).not.toContain(HOOK_KEY_NEW);
  expect(pages).toContain(redacted(HOOK_KEY_NEW));
});

test("basic credentials, the Points secret and the GitLab token are stored redacted; an HMAC signature is kept", async () => {
  relay = await startTestRelay(CONFIG);
  expect((await relay.post("basic", '{"id":"c"}', { authorization: basic(BASIC_PASSWORD) })).status).toBe(200);
  expect((await relay.post("basic", '{"id":"d"}', { authorization: basic("guessed-password") })).status).toBe(401);
  // A sender that sends credentials only when asked (a URL with user:pass@) is asked; a signed source asks for nothing.
  const unasked = await relay.post("basic", '{"id":"e"}');
  expect([unasked.status, unasked.headers.get("www-authenticate")]).toEqual([401, 'Basic realm="basic", charset="UTF-8"']);
  expect((await relay.post("hook", '{"id":"f"}')).headers.get("www-authenticate")).toBeNull();
  expect((await relay.post("points", '{"order":{"id":"o1"}}', { "x-webhook-secret": POINTS_SECRET, "x-webhook-event": "approved" })).status).toBe(200);
  expect((await relay.post("gitlab", '{"object_kind":"push"}', { "x-gitlab-token": GITLAB_TOKEN, "x-gitlab-event": "Push Hook" })).status).toBe(200);
  const body = '{"id":"p1","type":"points.earned"}';
  const signature = createHmac("sha256", PLOINTS_SECRET).update(body).digest("hex");
  expect((await relay.post("ploints", body, { "x-ploints-signature": signature })).status).toBe(200);

  const stored = await storedText();
  for (const secret of [BASIC_PASSWORD, POINTS_SECRET, GITLAB_TOKEN, basic(BASIC_PASSWORD).slice(6), basic("guessed-password").slice(6)])
    expect(stored).not.toContain(secret);
  expect(stored).toContain(redacted(basic(BASIC_PASSWORD)));
  expect(stored).toContain(redacted(POINTS_SECRET));
  expect(stored).toContain(redacted(GITLAB_TOKEN));
  expect(stored).toContain(signature);

  const { events } = await adminJson("/api/events?source=ploints");
  const detail = await adminJson(`/api/events/${events[0].id}`);
  expect(headerOf(detail.request.headers, "x-ploints-signature")).toBe(signature);
});

test("a query parameter whose name looks secret is shown redacted on the event page, in its curl command and in the API", async () => {
  relay = await startTestRelay(CONFIG);
  const QUERY_TOKEN = "QUERYTOKEN123";
  const ok = await relay.post(`hook?token=${QUERY_TOKEN}&evt=1`, '{"id":"q"}', { "x-hook-key": HOOK_KEY });
  expect(ok.status).toBe(200);
  const { id } = (await ok.json()) as { id: string };
  expect((await relay.post(`hook?api_key=${QUERY_TOKEN}`, '{"id":"r"}', { "x-hook-key": "wrong" })).status).toBe(401);
  await relay.store.writer.flushed();

  expect((await adminJson(`/api/events/${id}`)).request.query).toBe(`token=${redacted(QUERY_TOKEN)}&evt=1`);
  expect((await adminJson("/api/rejections")).rejections[0].path).toBe(`/in/hook?api_key=${redacted(QUERY_TOKEN)}`);
  const pages = (await adminHtml(`/events/${id}`)) + (await adminHtml("/rejections"));
  expect(pages).not.toContain(QUERY_TOKEN);
  expect(pages).toContain(`/in/hook?token=${redacted(QUERY_TOKEN)}&amp;evt=1`);
  // And decoded, a parameter a row.
  expect(pages).toContain(`<tr><th class="mono">token</th><td class="mono wrap masked">${redacted(QUERY_TOKEN)}</td></tr><tr><th class="mono">evt</th><td class="mono wrap">1</td></tr>`);
  expect(pages).toContain("# left out, stored redacted: x-hook-key, ?token");
});

test("a header value whose bytes are UTF-8 is shown decoded on the event page; other bytes as they are", async () => {
  relay = await startTestRelay(CONFIG);
  // What Bun hands over for the UTF-8 bytes of "café ✓" and for a lone 0xE9: one character per byte.
  const utf8Bytes = Buffer.from("café ✓", "utf8").toString("latin1");
  const res = await relay.post("hook", '{"id":"hdr"}', { "x-hook-key": HOOK_KEY, "x-note": utf8Bytes, "x-latin": "caf\u00e9" });
  const { id } = (await res.json()) as { id: string };
  const page = await adminHtml(`/events/${id}`);
  expect(page).toContain("café ✓");
  expect(page).not.toContain("cafÃ©");
  // Not UTF-8 (a single 0xE9): left as the byte it is.
  expect(page).toContain("caf\u00e9<");
  // A rejected request's page alike.
  await relay.post("hook", '{"id":"hdr2"}', { "x-hook-key": "wrong", "x-note": utf8Bytes });
  await relay.store.writer.flushed();
  const { rejections } = await adminJson("/api/rejections");
  const rejection = await adminHtml(`/rejections/${rejections[0].id}`);
  expect(rejection).toContain("café ✓");
  expect(rejection).not.toContain("cafÃ©");
});
