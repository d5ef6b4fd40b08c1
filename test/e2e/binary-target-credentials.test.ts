/**
 * The compiled binary delivering to targets behind credentials: a bearer
 * token and custom headers from env, basic auth with a file: password, and an
 * mTLS target (certificates made with openssl) behind an OAuth2 token
 * endpoint. Every credential arrives at its target and none appears in the
 * admin API, the UI, the logs (at debug) or the store file.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary } from "../support/binary.ts";
import { adminJson, PROVIDER_SECRET, recordingTarget, scratchDir, sendEvent } from "../support/fault-harness.ts";
import { makeMtlsCerts, mtlsServer } from "../support/mtls-certs.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-e2e-credentials-");
const certs = makeMtlsCerts();
const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  tmp.remove();
  rmSync(certs.dir, { recursive: true, force: true });
});

const SECRETS = {
  BILLING_TOKEN: "bearer-tok-3f9c1e7a5b",
  BILLING_KEY: "api-key-8d2e6b4c0a",
  BASIC_PASSWORD: "basic-pw-7a1c9e3f5d",
  CLIENT_SECRET: "client-secret-2b8d4f6a0c",
  ACCESS_TOKEN: "oauth-access-5e7a9c1b3d",
};

test("credentials from env and files reach each target and appear nowhere in the API, the UI, the logs or the store", async () => {
  const billing = recordingTarget();
  const basic = recordingTarget();
  stops.push(() => billing.stop(), () => basic.stop());
  let tokenRequests = 0;
  const tokens = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      tokenRequests++;
      const [id, secret] = atob((req.headers.get("authorization") ?? "").replace(/^Basic /, "")).split(":");
      if (id !== "relay" || secret !== SECRETS.CLIENT_SECRET) return Response.json({ error: "invalid_client" }, { status: 401 });
      return Response.json({ access_token: SECRETS.ACCESS_TOKEN, token_type: "Bearer", expires_in: 3600 });
    },
  });
  stops.push(() => tokens.stop(true));
  const ledger = mtlsServer(certs);
  stops.push(() => ledger.server.stop(true));

  writeFileSync(join(tmp.dir, "basic-password"), `${SECRETS.BASIC_PASSWORD}\n`);
  writeFileSync(join(tmp.dir, "client-secret"), `${SECRETS.CLIENT_SECRET}\n`);
  const target = (name: string, url: string, extra: string) =>
    `[[targets]]\nname = "${name}"\nurl = "${url}"\ntimeout = "3s"\nretry = { schedule = ["0s", "500ms", "1s"], jitter = 0 }\n${extra}\n`;
  const toml = [
    'log_level = "debug"',
    '[server]\nlisten = "127.0.0.1:0"\nadmin_listen = "127.0.0.1:0"',
    '[store]\nurl = "file:./relay.db"',
    `[[sources]]\nname = "p"\nverify = { preset = "ploints", secret = "${PROVIDER_SECRET}" }`,
    target("billing", billing.url, 'headers = { "X-Api-Key" = "env:BILLING_KEY", "X-Env" = "prod" }\nauth = { bearer = "env:BILLING_TOKEN" }'),
    target("basic", basic.url, 'auth = { basic = { username = "relay", password = "file:basic-password" } }'),
    target(
      "ledger",
      `https://localhost:${ledger.port}/hooks`,
      `auth = { oauth2 = { token_url = "http://127.0.0.1:${tokens.port}/oauth/token", client_id = "relay", client_secret = "file:client-secret", scope = "webhooks" } }\n` +
        `tls = { ca = "file:${certs.files.ca}", cert = "file:${certs.files.clientCert}", key = "file:${certs.files.clientKey}" }`,
    ),
    '[[routes]]\nfrom = "p"\nto = ["billing", "basic", "ledger"]',
  ].join("\n");
  writeFileSync(join(tmp.dir, "hookrelay.toml"), toml);
  const env = { BILLING_TOKEN: SECRETS.BILLING_TOKEN, BILLING_KEY: SECRETS.BILLING_KEY };
  const bin = await startBinary(["serve", "--config", join(tmp.dir, "hookrelay.toml")], tmp.dir, env);
  stops.push(() => bin.stop());

  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const sent = await sendEvent(bin.publicUrl, `{"id":"evt_${i}","type":"points.earned"}`);
    expect(sent.status).toBe(200);
    ids.push(sent.json.id!);
  }
  await waitFor("every delivery to be delivered", async () => {
    const events = await Promise.all(ids.map((id) => adminJson<{ deliveries: { status: string }[] }>(bin.adminUrl, `/api/events/${id}`)));
    return events.every((e) => e.deliveries.length === 3 && e.deliveries.every((d) => d.status === "delivered"));
  });

  expect(billing.hits.map((h) => [h.headers.get("authorization"), h.headers.get("x-api-key"), h.headers.get("x-env")])).toEqual(
    Array(5).fill([`Bearer ${SECRETS.BILLING_TOKEN}`, SECRETS.BILLING_KEY, "prod"]),
  );
  expect(basic.hits.map((h) => h.headers.get("authorization"))).toEqual(Array(5).fill(`Basic ${btoa(`relay:${SECRETS.BASIC_PASSWORD}`)}`));
  expect(ledger.received.map((h) => h.get("authorization"))).toEqual(Array(5).fill(`Bearer ${SECRETS.ACCESS_TOKEN}`));
  expect(tokenRequests).toBe(1);

  // Everything the admin side shows about these events and targets.
  const shown: string[] = [];
  const targets = await adminJson<{ targets: { name: string; headers: [string, string][]; auth: string | null; tls: unknown }[] }>(bin.adminUrl, "/api/targets");
  expect(targets.targets.map((t) => [t.name, t.auth, t.headers, t.tls])).toEqual([
    ["billing", "bearer", [["x-api-key", `[redacted: ${SECRETS.BILLING_KEY.length} chars]`], ["x-env", "[redacted: 4 chars]"]], null],
    ["basic", "basic", [], null],
    ["ledger", "oauth2", [], { ca: true, clientCertificate: true }],
  ]);
  shown.push(JSON.stringify(targets), JSON.stringify(await adminJson(bin.adminUrl, "/api/events")));
  for (const id of ids) shown.push(JSON.stringify(await adminJson(bin.adminUrl, `/api/events/${id}`)));
  const page = async (path: string) => (await fetch(`${bin.adminUrl}${path}`)).text();
  const targetsPage = await page("/targets");
  expect(targetsPage).toContain("auth: oauth2");
  shown.push(targetsPage, await page("/"), await page(`/events/${ids[0]}`));

  expect(await bin.stop()).toBe(0);
  // After a clean stop the WAL is checkpointed: every stored byte is in relay.db.
  const stored = readFileSync(join(tmp.dir, "relay.db")).toString("latin1");
  expect(stored).toContain(ids[0]!);
  expect(bin.logs()).toContain('"msg":"delivered"');
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const [where, text] of [["admin side", shown.join("\n")], ["logs", bin.logs()], ["store", stored]] as const) {
      if (text.includes(secret)) throw new Error(`${name} appears in the ${where}`);
    }
  }
  expect(stored).not.toContain(btoa(`relay:${SECRETS.BASIC_PASSWORD}`));
}, 60_000);
