/**
 * Targets behind credentials, delivered for real (SPEC.md "Targets: headers,
 * auth, TLS"): an OAuth2 token endpoint and the targets are Bun.serve on
 * 127.0.0.1:0, an mTLS target uses certificates made with openssl, the store
 * is a real SQLite file and the scheduler is driven by drain() and a fake clock.
 */
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { TargetConfig } from "../../src/config/types.ts";
import { createScheduler } from "../../src/delivery/scheduler.ts";
import type { Store } from "../../src/store/index.ts";
import { makeMtlsCerts, mtlsServer } from "../support/mtls-certs.ts";
import { fakeClock, recordingTarget, runCleanups, storeAt, submitEvent, targetConfig, tempDir, type Received } from "./fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function setup(targets: TargetConfig[], forwardHeaders: string[] = []) {
  const clock = fakeClock();
  const store = await storeAt(join(tempDir(cleanups), "d.db"), cleanups, clock);
  const scheduler = createScheduler({ store, targets, clock, random: () => 0.5, pollMs: 60_000, forwardHeadersFor: () => forwardHeaders });
  cleanups.unshift(() => scheduler.stop(100));
  return { clock, store, scheduler };
}

/** A token endpoint issuing tok-1, tok-2, … with expires_in, or failing while `failing()` says so. */
function tokenEndpoint(opts: { expiresIn?: number; failing?: () => boolean } = {}) {
  let issued = 0;
  let asked = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      asked++;
      if (opts.failing?.()) return Response.json({ error: "temporarily_unavailable" }, { status: 503 });
      return Response.json({ access_token: `tok-${++issued}`, token_type: "Bearer", expires_in: opts.expiresIn ?? 3600 });
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/oauth/token`, asked: () => asked };
}

const oauth2 = (tokenUrl: string) => ({ kind: "oauth2" as const, tokenUrl, clientId: "relay", clientSecret: "client-secret-XYZ", scope: "webhooks" });

async function table(store: Store, sql: string): Promise<Record<string, unknown>[]> {
  return (await store.reads.execute(sql)).rows.map((r) => ({ ...r }));
}

test("one OAuth2 token is fetched for many deliveries", async () => {
  const tokens = tokenEndpoint();
  const target = recordingTarget(cleanups, (r) => ({ status: r.headers.get("authorization") === "Bearer tok-1" ? 200 : 401 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { auth: oauth2(tokens.url), concurrency: 8 })]);
  for (let i = 0; i < 30; i++) await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received).toHaveLength(30);
  expect(tokens.asked()).toBe(1);
  expect(await table(store, "SELECT DISTINCT status, attempts FROM deliveries")).toEqual([{ status: "delivered", attempts: 1 }]);
});

test("a target that answers 401 once gets a new token and the same attempt succeeds", async () => {
  const tokens = tokenEndpoint();
  // tok-1 was revoked on the target's side.
  const target = recordingTarget(cleanups, (r) => ({ status: r.headers.get("authorization") === "Bearer tok-1" ? 401 : 200 }));
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { auth: oauth2(tokens.url) })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("authorization"))).toEqual(["Bearer tok-1", "Bearer tok-2"]);
  expect(tokens.asked()).toBe(2);
  expect(await table(store, "SELECT status, attempts, last_error FROM deliveries")).toEqual([{ status: "delivered", attempts: 1, last_error: null }]);
  expect(await table(store, "SELECT status_code, error FROM attempts")).toEqual([{ status_code: 200, error: null }]);
});

test("a failing token endpoint fails the attempt with an oauth2: error and the delivery is retried on schedule", async () => {
  let down = true;
  const tokens = tokenEndpoint({ failing: () => down });
  const target = recordingTarget(cleanups);
  const { clock, store, scheduler } = await setup([targetConfig("t", target.url, { auth: oauth2(tokens.url), retry: { scheduleMs: [0, 5_000, 60_000], jitter: 0 } })]);
  await submitEvent(store, { targets: ["t"], receivedAt: clock() });
  await scheduler.drain();
  const error = "oauth2: token endpoint answered HTTP 503 (temporarily_unavailable)";
  expect(await table(store, "SELECT status, attempts, next_attempt_at, last_error FROM deliveries")).toEqual([
    { status: "pending", attempts: 1, next_attempt_at: clock() + 5_000, last_error: error },
  ]);
  expect(await table(store, "SELECT status_code, error, response_excerpt FROM attempts")).toEqual([{ status_code: null, error, response_excerpt: null }]);
  expect(target.received).toHaveLength(0);

  down = false;
  clock.advance(5_000);
  await scheduler.drain();
  expect(target.received.map((r) => r.headers.get("authorization"))).toEqual(["Bearer tok-1"]);
  expect(await table(store, "SELECT status, attempts FROM deliveries")).toEqual([{ status: "delivered", attempts: 2 }]);
});

test("bearer, basic and custom headers, the URL's query and a secret URL's path arrive at the target and never in the stored attempt, even when the target echoes them", async () => {
  // The target echoes its request line and every header in its reply, as a debugging endpoint would.
  const echo = (r: Received) => ({ status: 200, body: JSON.stringify({ path: r.path, query: r.query, headers: Object.fromEntries(r.headers) }) });
  const bearerTarget = recordingTarget(cleanups, echo);
  const basicTarget = recordingTarget(cleanups, echo);
  const slackLike = recordingTarget(cleanups, echo);
  const headers: [string, string][] = [["x-api-key", "api-key-SECRET-1"], ["x-plain", "plain-SECRET-4"], ["x-env", "prod"], ["x-provider-event", "from-config"]];
  const { clock, store, scheduler } = await setup(
    [
      targetConfig("bearer", `${bearerTarget.url}?apikey=query-SECRET-5&v=2`, { auth: { kind: "bearer", token: "bearer-SECRET-2" }, headers }),
      targetConfig("basic", basicTarget.url, { auth: { kind: "basic", username: "relay", password: "basic-SECRET-3" } }),
      // An incoming-webhook URL read from a secret: its path is the credential.
      targetConfig("slack", `${slackLike.origin}/services/T0/B0/path-SECRET-6`, { urlIsSecret: true }),
    ],
    ["x-provider-event"],
  );
  await submitEvent(store, { targets: ["bearer", "basic", "slack"], receivedAt: clock(), headers: [["content-type", "application/json"], ["x-provider-event", "from-provider"]] });
  await scheduler.drain();

  const atBearer = bearerTarget.received[0]!;
  expect(atBearer.headers.get("authorization")).toBe("Bearer bearer-SECRET-2");
  expect(atBearer.headers.get("x-api-key")).toBe("api-key-SECRET-1");
  expect(atBearer.headers.get("x-plain")).toBe("plain-SECRET-4");
  expect(atBearer.query).toBe("?apikey=query-SECRET-5&v=2");
  // A configured header replaces a forwarded provider header of the same name.
  expect(atBearer.headers.get("x-provider-event")).toBe("from-config");
  expect(atBearer.headers.get("webhook-signature")).toStartWith("v1,");
  expect(basicTarget.received[0]!.headers.get("authorization")).toBe(`Basic ${btoa("relay:basic-SECRET-3")}`);
  expect(slackLike.received[0]!.path).toBe("/services/T0/B0/path-SECRET-6");

  const stored = JSON.stringify(await table(store, "SELECT * FROM attempts")) + JSON.stringify(await table(store, "SELECT * FROM deliveries"));
  expect(stored).toContain("x-env"); // the echoed replies were stored…
  const secrets = ["api-key-SECRET-1", "bearer-SECRET-2", btoa("relay:basic-SECRET-3"), "plain-SECRET-4", "query-SECRET-5", "path-SECRET-6"];
  for (const secret of secrets) expect(stored).not.toContain(secret); // …without the credentials
});

test("an https target that requires a client certificate: delivered with tls.ca, cert and key; refused without the certificate or the CA", async () => {
  const certs = makeMtlsCerts();
  cleanups.push(() => rmSync(certs.dir, { recursive: true, force: true }));
  const { server, port, received } = mtlsServer(certs);
  cleanups.push(() => server.stop(true));
  const full = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
  const once = { retry: { scheduleMs: [0], jitter: 0 } };
  const { clock, store, scheduler } = await setup([
    // By address and by name: the certificate names both.
    targetConfig("mtls-ip", `https://127.0.0.1:${port}/hooks`, { tls: full, ...once }),
    targetConfig("mtls-name", `https://localhost:${port}/hooks`, { tls: full, ...once }),
    targetConfig("no-client-cert", `https://127.0.0.1:${port}/hooks`, { tls: { ca: certs.ca, cert: null, key: null }, ...once }),
    targetConfig("no-ca", `https://127.0.0.1:${port}/hooks`, { tls: { ca: null, cert: certs.clientCert, key: certs.clientKey }, ...once }),
  ]);
  await submitEvent(store, { targets: ["mtls-ip", "mtls-name", "no-client-cert", "no-ca"], receivedAt: clock() });
  await scheduler.drain();
  const rows = await table(store, "SELECT target, status, last_error FROM deliveries ORDER BY target");
  expect(rows.map((r) => [r.target, r.status])).toEqual([
    ["mtls-ip", "delivered"],
    ["mtls-name", "delivered"],
    ["no-ca", "failed"],
    ["no-client-cert", "failed"],
  ]);
  expect(received).toHaveLength(2);
  expect(String(rows[2]!.last_error)).toMatch(/^network error: .*(SELF_SIGNED|self.signed|certificate)/i);
  expect(String(rows[3]!.last_error)).toStartWith("network error: ");
});
