import { afterEach, describe, expect, test } from "bun:test";
import { decideOutcome } from "../core/delivery-outcome.ts";
import { fakeClock, runCleanups, targetConfig } from "../../test/delivery/fixtures.ts";
import type { TargetAuth } from "../config/types.ts";
import { createSender, type SendReport } from "./sender.ts";
import { createTargetAuth } from "./target-auth.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

const CLIENT_SECRET = "hunter2-client-secret";

interface TokenRequest {
  method: string;
  contentType: string | null;
  authorization: string | null;
  body: string;
}

/** A token endpoint on 127.0.0.1:0 issuing "tok-1", "tok-2", … (or answering what `reply` says). */
function tokenEndpoint(reply: (n: number) => Response | Promise<Response> = (n) => Response.json({ access_token: `tok-${n}`, token_type: "Bearer", expires_in: 60 })) {
  const requests: TokenRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      requests.push({ method: req.method, contentType: req.headers.get("content-type"), authorization: req.headers.get("authorization"), body: await req.text() });
      return reply(requests.length);
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/oauth/token`, requests };
}

/** A target that answers 200 to the Authorization values `accept` allows, else 401; records what it saw. */
function protectedTarget(accept: (authorization: string | null) => boolean) {
  const seen: (string | null)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const authorization = req.headers.get("authorization");
      seen.push(authorization);
      return new Response(accept(authorization) ? "ok" : "no", { status: accept(authorization) ? 200 : 401 });
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/hooks`, seen };
}

const oauth2 = (tokenUrl: string, scope: string | null = "webhooks"): TargetAuth => ({ kind: "oauth2", tokenUrl, clientId: "relay app", clientSecret: CLIENT_SECRET, scope });

/** An attempt through the target's credentials: the POST carries only the Authorization header. */
function setup(auth: TargetAuth, targetUrl: string, opts: { resolve?: (host: string) => Promise<string[]>; timeoutMs?: number } = {}) {
  const clock = fakeClock();
  const sender = createSender({ resolve: opts.resolve });
  const credentials = createTargetAuth(targetConfig("t", targetUrl, { auth, connectTimeoutMs: 500 }), { sender, clock });
  const attempt = (): Promise<SendReport> =>
    credentials.send(
      (authorization, timeoutMs) =>
        sender({ url: targetUrl, body: new TextEncoder().encode("{}"), headers: authorization === null ? [] : [["authorization", authorization]], timeoutMs, connectTimeoutMs: 500 }),
      opts.timeoutMs ?? 2000,
    );
  return { clock, attempt };
}

describe("bearer and basic", () => {
  test("are sent as the Authorization header, never fetched", async () => {
    const target = protectedTarget(() => true);
    await setup({ kind: "bearer", token: "tok-static" }, target.url).attempt();
    await setup({ kind: "basic", username: "relay", password: "pa:ss" }, target.url).attempt();
    expect(target.seen).toEqual(["Bearer tok-static", `Basic ${btoa("relay:pa:ss")}`]);
  });

  test("a 401 is the attempt's answer: no second request", async () => {
    const target = protectedTarget(() => false);
    const report = await setup({ kind: "bearer", token: "tok-static" }, target.url).attempt();
    expect(report.result).toMatchObject({ kind: "response", status: 401 });
    expect(target.seen).toHaveLength(1);
  });
});

describe("oauth2 client credentials", () => {
  test("asks the token endpoint with the client-credentials grant and sends the token as a bearer", async () => {
    const tokens = tokenEndpoint();
    const target = protectedTarget((a) => a === "Bearer tok-1");
    const report = await setup(oauth2(tokens.url), target.url).attempt();
    expect(report.result).toMatchObject({ kind: "response", status: 200 });
    expect(tokens.requests).toEqual([
      {
        method: "POST",
        contentType: "application/x-www-form-urlencoded",
        // RFC 6749 §2.3.1: the client id and secret form-encoded, then Basic.
        authorization: `Basic ${btoa(`relay+app:${CLIENT_SECRET}`)}`,
        body: "grant_type=client_credentials&scope=webhooks",
      },
    ]);
    await setup(oauth2(tokens.url, null), target.url).attempt();
    expect(tokens.requests[1]!.body).toBe("grant_type=client_credentials");
  });

  test("one token serves many attempts, concurrent ones included, until shortly before it expires", async () => {
    const tokens = tokenEndpoint();
    const target = protectedTarget((a) => a !== null);
    const { clock, attempt } = setup(oauth2(tokens.url), target.url);
    await Promise.all(Array.from({ length: 10 }, attempt));
    for (let i = 0; i < 5; i++) await attempt();
    expect(tokens.requests).toHaveLength(1);
    // expires_in 60 s: kept for 54 s (a tenth of its life, at most 30 s, before it expires).
    clock.advance(53_900);
    await attempt();
    expect(tokens.requests).toHaveLength(1);
    clock.advance(200);
    await attempt();
    expect(tokens.requests).toHaveLength(2);
    expect(target.seen.slice(-2)).toEqual(["Bearer tok-1", "Bearer tok-2"]);
  });

  test("a 401 from the target fetches one new token and the attempt is retried once within itself", async () => {
    const tokens = tokenEndpoint((n) => Response.json({ access_token: `tok-${n}`, token_type: "bearer" }));
    const target = protectedTarget((a) => a !== "Bearer tok-1");
    const { attempt } = setup(oauth2(tokens.url), target.url);
    // Five attempts at once all meet the revoked token: one new token serves them all.
    const reports = await Promise.all(Array.from({ length: 5 }, attempt));
    expect(reports.map((r) => r.result)).toEqual(Array(5).fill({ kind: "response", status: 200, retryAfter: null, location: null }));
    expect(tokens.requests).toHaveLength(2);
    expect(target.seen.filter((a) => a === "Bearer tok-1")).toHaveLength(5);
    expect(target.seen.filter((a) => a === "Bearer tok-2")).toHaveLength(5);
  });

  test("a second 401, with the new token, is the attempt's answer, and its error says a fresh token was refused too", async () => {
    const tokens = tokenEndpoint();
    const target = protectedTarget(() => false);
    const report = await setup(oauth2(tokens.url), target.url).attempt();
    expect(report.result).toMatchObject({ kind: "response", status: 401 });
    expect(decideOutcome(report.result, { scheduleMs: [0, 1000], jitter: 0 }, 1, 0, 0.5).error).toBe("HTTP 401 (a freshly fetched OAuth2 token was refused too)");
    expect(tokens.requests).toHaveLength(2);
    expect(target.seen).toEqual(["Bearer tok-1", "Bearer tok-2"]);
  });

  test("a token longer than the reply excerpt is used whole", async () => {
    const long = "t".repeat(9000);
    const tokens = tokenEndpoint(() => Response.json({ access_token: long, expires_in: 3600 }));
    const target = protectedTarget((a) => a === `Bearer ${long}`);
    const report = await setup(oauth2(tokens.url), target.url).attempt();
    expect(report.result).toMatchObject({ kind: "response", status: 200 });
  });

  test("a token endpoint that fails ends the attempt with an oauth2: error that shows neither the secret nor the reply", async () => {
    const target = protectedTarget(() => true);
    const failing = async (reply: () => Response) => {
      const tokens = tokenEndpoint(reply);
      const report = await setup(oauth2(tokens.url), target.url).attempt();
      return report;
    };
    const denied = await failing(() => Response.json({ error: "invalid_client", error_description: `wrong secret ${CLIENT_SECRET}` }, { status: 401 }));
    expect(denied).toEqual({ result: { kind: "auth-failed", message: "oauth2: token endpoint answered HTTP 401 (invalid_client)" }, durationMs: expect.any(Number), excerpt: null });
    expect((await failing(() => new Response("<html>oops</html>", { status: 502 }))).result).toEqual({
      kind: "auth-failed",
      message: "oauth2: token endpoint answered HTTP 502",
    });
    expect((await failing(() => Response.json({ token_type: "bearer" }))).result).toEqual({ kind: "auth-failed", message: "oauth2: token endpoint reply has no access_token" });
    expect((await failing(() => new Response("access_token=x"))).result).toEqual({ kind: "auth-failed", message: "oauth2: token endpoint reply is not JSON" });
    expect((await failing(() => Response.json({ access_token: "x", token_type: "mac" }))).result).toEqual({
      kind: "auth-failed",
      message: 'oauth2: token endpoint issued a "mac" token; only Bearer is supported',
    });
    expect(target.seen).toEqual([]);
  });

  test("an unreachable or slow token endpoint fails the attempt within its timeout", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const closedUrl = `http://127.0.0.1:${closed.port}/token`;
    closed.stop(true);
    const target = protectedTarget(() => true);
    const refused = await setup(oauth2(closedUrl), target.url).attempt();
    expect(refused.result).toMatchObject({ kind: "auth-failed", message: expect.stringMatching(/^oauth2: token endpoint: network error: /) });

    const hanging = tokenEndpoint(() => new Promise<Response>(() => {}));
    const slow = await setup(oauth2(hanging.url), target.url, { timeoutMs: 300 }).attempt();
    // On a loaded machine the connect probe may be what runs out of time: either way, within the attempt's 300 ms.
    expect(slow.result).toEqual({ kind: "auth-failed", message: expect.stringMatching(/^oauth2: token endpoint: (connect )?timeout after \d+ms$/) });
    expect(slow.durationMs).toBeLessThan(1500);
    expect(target.seen).toEqual([]);
  });

  test("the token URL passes the address guard when it is fetched", async () => {
    const target = protectedTarget(() => true);
    // The name resolves (now) to the metadata address: refused before any request.
    const resolve = async (host: string) => (host === "auth.internal.test" ? ["169.254.169.254"] : ["127.0.0.1"]);
    const report = await setup(oauth2("http://auth.internal.test/token"), target.url, { resolve }).attempt();
    expect(report.result).toEqual({ kind: "auth-failed", message: "oauth2: token endpoint resolved to forbidden address 169.254.169.254; refused" });
    expect(target.seen).toEqual([]);
  });
});
