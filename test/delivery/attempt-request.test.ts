/**
 * Each attempt records the request the relay actually sent — method, URL and
 * every header, with the target's secrets masked — and GET /api/events/<id>
 * returns it under attempts[].request. A real push target on 127.0.0.1 with
 * bearer auth and a header from a secret ref receives the real values; the
 * record and the store file hold only their masked forms.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { startTestRelay, type TestRelay } from "../support/relay.ts";
import { onPostgres } from "../support/test-store.ts";

const TOKEN = "bearer-secret-4f1e9a7c";
const API_KEY = "api-key-secret-8b3d2e6f";
const SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN = "admin-token-0123456789abcdef";

let relay: TestRelay;
let receiver: ReturnType<typeof Bun.serve>;
const received: { headers: Headers; body: string }[] = [];

beforeAll(async () => {
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      received.push({ headers: req.headers, body: await req.text() });
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
event_type = "$.type"
forward_headers = ["x-request-id"]
[[targets]]
name = "billing"
url = "http://127.0.0.1:${receiver.port}/hooks?key=query-secret"
headers = { "X-Api-Key" = "env:API_KEY", "X-Env" = "prod" }
auth = { bearer = "env:TOKEN" }
signing = { secret = "${SIGNING}" }
[[routes]]
from = "shop"
to = ["billing"]
`,
    { env: { TOKEN, API_KEY }, engine: { pollMs: 50 } },
  );
});
afterAll(async () => {
  await relay.close();
  receiver.stop(true);
});

const api = async (path: string, init: RequestInit = {}) =>
  relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers as object) } }));

interface AttemptJson {
  status: number | null;
  request: { method: string; url: string; headers: [string, string][] } | null;
}
interface EventJson {
  deliveries: { id: string; status: string; origin: string; attempts: AttemptJson[] }[];
}

async function deliveredEvent(id: string, deliveries: number): Promise<EventJson> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ev = (await (await api(`/api/events/${id}`)).json()) as EventJson;
    if (ev.deliveries.length === deliveries && ev.deliveries.every((d) => d.status === "delivered")) return ev;
    if (Date.now() > deadline) throw new Error(`not delivered in time: ${JSON.stringify(ev)}`);
    await Bun.sleep(20);
  }
}

test("an attempt records the request sent, with the bearer token and the secret header masked and webhook-* shown", async () => {
  const res = await relay.post("shop", '{"type":"order.paid","id":1}', { "x-request-id": "req-77" });
  const { id } = (await res.json()) as { id: string };
  const ev = await deliveredEvent(id, 1);
  const [attempt] = ev.deliveries[0]!.attempts;
  const request = attempt!.request!;
  expect(request.method).toBe("POST");
  // Userinfo and query may carry credentials: not recorded.
  expect(request.url).toBe(`http://127.0.0.1:${receiver.port}/hooks?…`);
  const headers = new Map(request.headers);
  const sent = received.at(-1)!.headers;
  // What the target got, header by header, except the secrets.
  expect(sent.get("authorization")).toBe(`Bearer ${TOKEN}`);
  expect(sent.get("x-api-key")).toBe(API_KEY);
  expect(headers.get("authorization")).toBe(`Bearer [redacted: ${TOKEN.length} chars]`);
  expect(headers.get("x-api-key")).toBe(`[redacted: ${API_KEY.length} chars]`);
  expect(headers.get("x-env")).toBe("[redacted: 4 chars]");
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature", "x-request-id", "content-type", "user-agent", "hookrelay-source", "hookrelay-attempt"])
    expect({ name, value: headers.get(name) }).toEqual({ name, value: sent.get(name)! });
  expect(headers.get("webhook-id")).toBe(id);
  // The recorded signature is the one sent: it verifies the event's body.
  const wh = new Webhook(SIGNING);
  expect(() => wh.verify(received.at(-1)!.body, Object.fromEntries(headers))).not.toThrow();
  const store = await everythingStored();
  for (const secret of [TOKEN, API_KEY, "query-secret"]) expect({ secret, stored: store.includes(secret) }).toEqual({ secret, stored: false });
});

/** Every byte the store holds: the file and its WAL, or on PostgreSQL every row of every table as text. */
async function everythingStored(): Promise<string> {
  if (!onPostgres) return readFileSync(join(relay.dir, "relay.db")).toString("latin1") + readFileSync(join(relay.dir, "relay.db-wal")).toString("latin1");
  const tables = await relay.store.reads.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()");
  let all = "";
  for (const t of tables.rows) {
    const rs = await relay.store.reads.execute(`SELECT coalesce(string_agg(t::text, ' '), '') AS s FROM "${String(t.tablename)}" t`);
    all += String(rs.rows[0]!.s);
  }
  return all;
}

test("a manual redelivery is labelled as one, and its attempt records its own request", async () => {
  const res = await relay.post("shop", '{"type":"order.paid","id":2}');
  const { id } = (await res.json()) as { id: string };
  await deliveredEvent(id, 1);
  expect((await api(`/api/events/${id}/redeliver`, { method: "POST" })).status).toBe(202);
  const ev = await deliveredEvent(id, 2);
  expect(ev.deliveries.map((d) => d.origin)).toEqual(["ingest", "redeliver"]);
  const [first, again] = ev.deliveries.map((d) => new Map(d.attempts[0]!.request!.headers));
  expect(again!.get("webhook-id")).toBe(first!.get("webhook-id")!);
  expect(again!.get("hookrelay-attempt")).toBe("1");
});
