/**
 * A target URL read from a secret (an incoming-webhook URL, whose path is
 * the credential): the target gets the real URL; the API, the targets page,
 * the attempt record and the store hold only its scheme and host.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestRelay, type TestRelay } from "../support/relay.ts";
import { onPostgres } from "../support/test-store.ts";

const ADMIN = "admin-token-0123456789abcdef";
const SECRET_PATH = "/services/T0001/B0002/XyZsecretPart42";

let relay: TestRelay;
let receiver: ReturnType<typeof Bun.serve>;
const paths: string[] = [];

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      paths.push(new URL(req.url).pathname);
      return new Response("ok");
    },
  });
  relay = await startTestRelay(
    `
[admin]
token = "${ADMIN}"
[[sources]]
name = "shop"
verify = { scheme = "none" }
[[targets]]
name = "chat"
url = "env:CHAT_WEBHOOK_URL"
[[routes]]
from = "shop"
to = ["chat"]
`,
    { env: { CHAT_WEBHOOK_URL: `http://127.0.0.1:${receiver.port}${SECRET_PATH}` }, engine: { pollMs: 50 } },
  );
});
afterAll(async () => {
  await relay.close();
  receiver.stop(true);
});

const api = (path: string) => relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }));

test("a target URL from a secret is used whole and shown by its scheme and host only: API, targets page, attempt record, store", async () => {
  const { id } = (await (await relay.post("shop", '{"id":1}')).json()) as { id: string };
  const deadline = Date.now() + 10_000;
  let ev: { deliveries: { status: string; attempts: { request: { url: string } | null }[] }[] };
  for (;;) {
    ev = await (await api(`/api/events/${id}`)).json();
    if (ev.deliveries[0]?.status === "delivered") break;
    if (Date.now() > deadline) throw new Error(`not delivered: ${JSON.stringify(ev)}`);
    await Bun.sleep(20);
  }
  expect(paths).toEqual([SECRET_PATH]);
  const shown = `http://127.0.0.1:${receiver.port}/…`;
  expect(ev.deliveries[0]!.attempts[0]!.request!.url).toBe(shown);
  const targets = (await (await api("/api/targets")).json()) as { targets: { name: string; url: string }[] };
  expect(targets.targets.find((t) => t.name === "chat")!.url).toBe(shown);
  const page = await (await api("/targets")).text();
  expect(page).toContain(shown);
  for (const where of [JSON.stringify(ev), JSON.stringify(targets), page]) expect(where).not.toContain("XyZsecretPart42");
  if (!onPostgres) {
    const stored = readFileSync(join(relay.dir, "relay.db")).toString("latin1") + readFileSync(join(relay.dir, "relay.db-wal")).toString("latin1");
    expect(stored).not.toContain("XyZsecretPart42");
  }
});
