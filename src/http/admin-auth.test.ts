import { afterEach, expect, test } from "bun:test";
import { ADMIN_TOKEN, adminToml, seedEvents } from "../../test/support/admin-fixture.ts";
import { startLiveRelay } from "../../test/support/admin-relay.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";
import { PAGE_CSP } from "./security-headers.ts";

const relays: TestRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});
async function relayWith(toml = adminToml(), nowMs?: () => number) {
  const r = await startTestRelay(toml, { nowMs });
  relays.push(r);
  return r;
}
/** A relay whose clock moves only when the test says so. */
async function relayWithClock() {
  const clock = { now: Date.now() };
  return { clock, r: await relayWith(adminToml(), () => clock.now) };
}
const api = (r: TestRelay, path: string, token: string) =>
  r.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${token}` } }));
const SAME_SITE = { origin: "http://127.0.0.1", "sec-fetch-site": "same-origin" };
const CROSS_SITE = { origin: "https://evil.example", "sec-fetch-site": "cross-site" };
const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function login(r: TestRelay, token = ADMIN_TOKEN, headers: Record<string, string> = SAME_SITE): Promise<Response> {
  return r.app.adminApp.handle(
    new Request("http://127.0.0.1/login", { method: "POST", headers: { ...FORM, ...headers }, body: `token=${encodeURIComponent(token)}&next=%2Ftargets` }),
  );
}
async function sessionCookie(r: TestRelay): Promise<string> {
  const res = await login(r);
  expect(res.status).toBe(303);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

test("logging in sets an HttpOnly SameSite=Strict session cookie that does not contain the token", async () => {
  const r = await relayWith();
  const res = await login(r);
  expect(res.headers.get("location")).toBe("/targets");
  const cookie = res.headers.get("set-cookie")!;
  expect(cookie).toMatch(/^hookrelay_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  expect(cookie).not.toContain(ADMIN_TOKEN);
  const page = await r.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { cookie: cookie.split(";")[0]! } }));
  expect(page.status).toBe(200);
});

test("behind a TLS-terminating proxy (X-Forwarded-Proto: https) the session cookie is Secure", async () => {
  const r = await relayWith();
  expect((await login(r)).headers.get("set-cookie")).not.toContain("Secure");
  const res = await login(r, ADMIN_TOKEN, { ...SAME_SITE, "x-forwarded-proto": "https" });
  expect(res.headers.get("set-cookie")).toContain("; Secure");
});

test("a forged or tampered session cookie is refused", async () => {
  const r = await relayWith();
  const good = await sessionCookie(r);
  const [name, value] = good.split("=") as [string, string];
  // Its last two characters changed (never to what they were: "AA" is a session's ending now and then).
  const tampered = `${value.slice(0, -2)}${value.endsWith("AA") ? "BB" : "AA"}`;
  for (const bad of [`${name}=${tampered}`, `${name}=${value}x`, `${name}=${ADMIN_TOKEN}`, `${name}=`]) {
    const res = await r.app.adminApp.handle(new Request("http://127.0.0.1/api/events", { headers: { cookie: bad } }));
    expect(res.status).toBe(401);
  }
});

test("a cross-site form post carrying the session cookie is refused and changes nothing", async () => {
  const r = await relayWith();
  const [e] = await seedEvents(r.store, 1, Date.UTC(2025, 0, 1));
  const cookie = await sessionCookie(r);
  const attempts: Record<string, string>[] = [CROSS_SITE, { origin: "https://evil.example" }, { "sec-fetch-site": "same-site" }, {}];
  for (const headers of attempts) {
    const ui = await r.app.adminApp.handle(
      new Request(`http://127.0.0.1/events/${e!.id}/erase`, { method: "POST", headers: { ...FORM, cookie, ...headers }, body: "" }),
    );
    expect(ui.status).toBe(403);
    const apiDelete = await r.app.adminApp.handle(new Request(`http://127.0.0.1/api/events/${e!.id}`, { method: "DELETE", headers: { cookie, ...headers } }));
    expect(apiDelete.status).toBe(403);
  }
  const disable = await r.app.adminApp.handle(
    new Request("http://127.0.0.1/targets/orders/disable", { method: "POST", headers: { ...FORM, cookie, ...CROSS_SITE }, body: "" }),
  );
  expect(disable.status).toBe(403);
  const ev = (await (await r.app.adminApp.handle(new Request(`http://127.0.0.1/api/events/${e!.id}`, { headers: { cookie } }))).json()) as any;
  expect(ev.erasedAt).toBeNull();
  // The same post from our own page goes through.
  const ok = await r.app.adminApp.handle(
    new Request(`http://127.0.0.1/events/${e!.id}/erase`, { method: "POST", headers: { ...FORM, cookie, ...SAME_SITE }, body: "" }),
  );
  expect(ok.status).toBe(303);
});

test("a form sent from a tab whose session ended leads to sign-in, says the action was not done, and returns to its page", async () => {
  const r = await relayWith();
  const [e] = await seedEvents(r.store, 1, Date.UTC(2025, 0, 1));
  const res = await r.app.adminApp.handle(
    new Request(`http://127.0.0.1/events/${e!.id}/erase`, {
      method: "POST",
      headers: { ...FORM, ...SAME_SITE, referer: `http://127.0.0.1/events/${e!.id}?x=1` },
      body: "",
    }),
  );
  expect(res.status).toBe(303);
  const location = res.headers.get("location")!;
  expect(location).toBe(`/login?ended=1&next=${encodeURIComponent(`/events/${e!.id}?x=1`)}`);
  const login = await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${location}`))).text();
  expect(login).toContain("that action was not carried out");
  expect(login).toContain(`value="/events/${e!.id}?x=1"`);
  const ev = (await (await r.app.adminApp.handle(new Request(`http://127.0.0.1/api/events/${e!.id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).json()) as any;
  expect(ev.erasedAt).toBeNull();
});

test("an API post without a same-origin proof is told which header makes it go through", async () => {
  const r = await relayWith();
  const [e] = await seedEvents(r.store, 1, Date.UTC(2025, 0, 1));
  const cookie = await sessionCookie(r);
  const erase = (headers: Record<string, string>) =>
    r.app.adminApp.handle(new Request(`http://127.0.0.1/api/events/${e!.id}`, { method: "DELETE", headers: { cookie, ...headers } }));
  // As curl sends it: no Origin, no Sec-Fetch-Site.
  const refused = await erase({});
  expect(refused.status).toBe(403);
  const { error } = (await refused.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe("csrf");
  expect(error.message).toContain("X-Requested-With");
  expect(error.message).toContain("Authorization: Bearer");
  // A request naming another site, X-Requested-With or not, is refused and erases nothing.
  const foreign = await erase({ "x-requested-with": "x", origin: "http://evil.example" });
  expect(foreign.status).toBe(403);
  // …told it was the Origin, not to send the header it sent.
  expect(((await foreign.json()) as { error: { message: string } }).error.message).toStartWith("cross-site request refused: its Origin");
  expect((await erase({ "x-requested-with": "x", "sec-fetch-site": "cross-site" })).status).toBe(403);
  expect((await erase({ "x-requested-with": "curl" })).status).toBe(200);
});

test("on a real http admin listener, a post whose Origin is https on the same host and port is refused", async () => {
  const live = await startLiveRelay();
  try {
    const { adminUrl, adminPort } = live.relay;
    const post = (path: string, origin: string, headers: Record<string, string> = {}) =>
      fetch(`${adminUrl}${path}`, { method: "POST", redirect: "manual", headers: { ...FORM, origin, ...headers }, body: `token=${ADMIN_TOKEN}` });
    expect((await post("/login", `https://127.0.0.1:${adminPort}`)).status).toBe(403);
    const ok = await post("/login", `http://127.0.0.1:${adminPort}`);
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get("set-cookie")!.split(";")[0]!;
    expect((await post("/targets/orders/disable", `https://127.0.0.1:${adminPort}`, { cookie })).status).toBe(403);
    expect((await post("/targets/orders/disable", `http://127.0.0.1:${adminPort}`, { cookie })).status).toBe(303);
  } finally {
    await live.stop();
  }
});

test("a cross-site login post is refused", async () => {
  const r = await relayWith();
  expect((await login(r, ADMIN_TOKEN, CROSS_SITE)).status).toBe(403);
});

test("failed logins are rate-limited per address, even when the right token follows, which signs in once the back-off has passed", async () => {
  const { clock, r } = await relayWithClock();
  for (let i = 0; i < 5; i++) expect((await login(r, "wrong")).status).toBe(401);
  const res = await login(r);
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe("1");
  expect(res.headers.get("set-cookie")).toBeNull();
  clock.now += 1000;
  expect((await login(r)).status).toBe(303);
});

test("signing in with the right token clears the address's failed attempts; a right bearer token does not", async () => {
  const { clock, r } = await relayWithClock();
  for (let i = 0; i < 6; i++) await login(r, "wrong");
  clock.now += 2000;
  expect((await login(r)).status).toBe(303);
  // A typo now is one failure of five free ones, not the next back-off (4 s) that refuses the right token.
  expect((await login(r, "typo")).status).toBe(401);
  expect((await login(r)).status).toBe(303);
  // Bearer: the right token between failures leaves the count alone.
  for (let i = 0; i < 4; i++) await api(r, "/api/events", "wrong");
  expect((await api(r, "/api/events", ADMIN_TOKEN)).status).toBe(200);
  expect((await api(r, "/api/events", "wrong")).status).toBe(401);
  expect((await api(r, "/api/events", ADMIN_TOKEN)).status).toBe(429);
});

test("wrong bearer tokens get 429 after five, even with the right token, which works again once the back-off has passed", async () => {
  const { clock, r } = await relayWithClock();
  for (let i = 0; i < 5; i++) expect((await api(r, "/api/events", "wrong")).status).toBe(401);
  const limited = await api(r, "/api/events", "wrong");
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toBe("1");
  expect(((await limited.json()) as any).error.code).toBe("too_many_attempts");
  // While limited, the answer says nothing about the token: the right one is refused alike, on every route.
  expect((await api(r, "/api/events", ADMIN_TOKEN)).status).toBe(429);
  expect((await api(r, "/metrics", ADMIN_TOKEN)).status).toBe(429);
  expect((await login(r)).status).toBe(429);
  clock.now += 1000;
  expect((await api(r, "/api/events", ADMIN_TOKEN)).status).toBe(200);
  // The next failure doubles the back-off.
  expect((await api(r, "/metrics", "wrong")).status).toBe(401);
  expect((await api(r, "/api/events", ADMIN_TOKEN)).headers.get("retry-after")).toBe("2");
  clock.now += 2000;
  expect((await api(r, "/metrics", ADMIN_TOKEN)).status).toBe(200);
});

test("a session keeps working while its address is limited for wrong bearer tokens", async () => {
  const { r } = await relayWithClock();
  const cookie = await sessionCookie(r);
  for (let i = 0; i < 6; i++) await api(r, "/api/events", "wrong");
  expect((await api(r, "/api/events", ADMIN_TOKEN)).status).toBe(429);
  expect((await r.app.adminApp.handle(new Request("http://127.0.0.1/api/events", { headers: { cookie } }))).status).toBe(200);
});

test("a copied session cookie stops working for good after logout", async () => {
  const r = await relayWith();
  const cookie = await sessionCookie(r);
  const page = () => r.app.adminApp.handle(new Request("http://127.0.0.1/targets", { headers: { cookie } }));
  expect((await page()).status).toBe(200);
  const out = await r.app.adminApp.handle(new Request("http://127.0.0.1/logout", { method: "POST", headers: { cookie, ...SAME_SITE } }));
  expect(out.status).toBe(303);
  expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
  // The sign-in page it lands on says so.
  expect(out.headers.get("location")).toBe("/login?signed-out=1");
  expect(await (await r.app.adminApp.handle(new Request(`http://127.0.0.1${out.headers.get("location")}`))).text()).toContain("You have signed out.");
  // The browser drops the cookie; a copy kept elsewhere is refused by the server.
  const after = await page();
  expect(after.status).toBe(303);
  expect(after.headers.get("location")).toBe("/login?next=%2Ftargets");
  const api = await r.app.adminApp.handle(new Request("http://127.0.0.1/api/events", { headers: { cookie } }));
  expect(api.status).toBe(401);
  // Said as what happened: the session ended, not a wrong token the browser never sent.
  expect(((await api.json()) as { error: { message: string } }).error.message).toContain("the session has ended");
});

test("over real HTTP, wrong tokens are limited per client address, the admin and public listeners each with their own count", async () => {
  const live = await startLiveRelay();
  try {
    const { adminUrl, publicUrl } = live.relay;
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 5; i++) expect((await fetch(`${adminUrl}/api/events`, bearer("wrong"))).status).toBe(401);
    const limited = await fetch(`${adminUrl}/api/events`, bearer(ADMIN_TOKEN));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect((await fetch(`${publicUrl}/listen/nobody`, bearer("wrong"))).status).toBe(401);
    expect((await fetch(`${publicUrl}/listen/nobody`, bearer("wrong"))).status).toBe(429);
  } finally {
    await live.stop();
  }
});

test("every page carries the Content-Security-Policy and loads no inline script or style", async () => {
  const r = await relayWith();
  const [e] = await seedEvents(r.store, 1, Date.UTC(2025, 0, 1));
  const cookie = await sessionCookie(r);
  for (const path of ["/", `/events/${e!.id}`, "/rejections", "/targets", "/sources", "/login", "/assets/style.css", "/nope"]) {
    const res = await r.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers: { cookie } }));
    expect(res.headers.get("content-security-policy")).toBe(PAGE_CSP);
    const text = await res.text();
    expect(text).not.toMatch(/<script>|<script [^>]*>[^<]|<style|style="| on\w+=/);
  }
});

test("without a token (loopback only) no auth is needed, but a foreign Host is refused", async () => {
  const r = await relayWith(adminToml({ token: null }));
  expect((await r.app.adminApp.handle(new Request("http://127.0.0.1/api/events"))).status).toBe(200);
  expect((await r.app.adminApp.handle(new Request("http://localhost:8081/"))).status).toBe(200);
  // DNS rebinding: a page on attacker.example resolving to 127.0.0.1.
  const rebound = await r.app.adminApp.handle(new Request("http://attacker.example:8081/api/events"));
  expect(rebound.status).toBe(403);
  // The Host rule is named, not a token there is none of.
  expect(((await rebound.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "forbidden_host", message: expect.stringContaining("localhost, 127.x.x.x or [::1]") });
  const page = await r.app.adminApp.handle(new Request("http://attacker.example:8081/"));
  expect([page.status, await page.text()]).toEqual([403, expect.stringContaining("Forbidden host: with no admin token")]);
  const cross = await r.app.adminApp.handle(
    new Request("http://127.0.0.1/targets/orders/disable", { method: "POST", headers: { ...FORM, ...CROSS_SITE }, body: "" }),
  );
  expect(cross.status).toBe(403);
  const simplePost = await r.app.adminApp.handle(
    new Request("http://127.0.0.1/api/targets/orders/disable", { method: "POST", headers: { "content-type": "text/plain", ...CROSS_SITE } }),
  );
  expect(simplePost.status).toBe(403);
  // curl without X-Requested-With is told what to send: not a token there is none of.
  const bare = await r.app.adminApp.handle(new Request("http://127.0.0.1/api/reload", { method: "POST" }));
  expect([bare.status, ((await bare.json()) as { error: { message: string } }).error.message]).toEqual([403, "cross-site request refused: a script or curl must send the header X-Requested-With (any value)"]);
});
