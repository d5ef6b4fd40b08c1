/**
 * Route payload filters through the compiled binary: `hookrelay check` names
 * a bad filter's key path, and `hookrelay serve` sends an event only where a
 * filter says, stores the rest as unrouted and explains why.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { adminJson, recordingTarget, runBinary, scratchDir, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-route-filters-");
afterAll(() => tmp.remove());
const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

const toml = (targetUrl: string, filter: string) => `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "shop"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "big-orders"
url = "${targetUrl}"
signing = { secret = "${WHSEC}" }
[[routes]]
from = "shop"
to = ["big-orders"]
event_types = ["order.*"]
${filter}
`;

test("hookrelay check names the key path of an unknown operator and of a wrong operand type", async () => {
  writeFileSync(
    join(tmp.dir, "bad.toml"),
    toml("http://127.0.0.1:9/hooks", 'filter.body = { data = { amount = { "$gte" = "x" }, currency = { "$in_list" = ["EUR"] } } }'),
  );
  const r = await runBinary(["check", "--config", "bad.toml"], tmp.dir);
  expect(r.code).toBe(1);
  expect(r.stderr + r.stdout).toContain('routes[0].filter.body.data.amount.$gte: expected a number, got "x"');
  expect(r.stderr + r.stdout).toContain("routes[0].filter.body.data.currency.$in_list: unknown operator");
});

test("the binary forwards only events the filter matches; the rest are stored unrouted, with the reason", async () => {
  const target = recordingTarget();
  const relay = await serveBinary(tmp.dir, toml(target.url, 'filter.body = { data = { amount = { "$gte" = 10000 } } }'));
  try {
    const send = async (amount: number) => {
      const res = await fetch(`${relay.publicUrl}/in/shop`, {
        method: "POST",
        body: JSON.stringify({ type: "order.paid", data: { amount } }),
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { id: string }).id;
    };
    const small = await send(50);
    const big = await send(20000);
    await waitFor("the big order at the target", () => target.hits.length === 1);
    expect(target.hits[0]!.webhookId).toBe(big);
    const unrouted = await adminJson<{ events: { id: string; status: string }[] }>(relay.adminUrl, "/api/events?status=unrouted");
    expect(unrouted.events).toEqual([expect.objectContaining({ id: small, status: "unrouted" })]);
    const routing = await adminJson(relay.adminUrl, `/api/events/${small}/routing`);
    expect(routing).toEqual({
      routes: [{ index: 0, from: "shop", to: ["big-orders"], matched: false, reason: "body.data.amount: 50 is not >= 10000" }],
    });
    // Stopping drains: the small order never reached the target.
    expect(await relay.stop()).toBe(0);
    expect(target.hits.map((h) => h.webhookId)).toEqual([big]);
  } finally {
    if (relay.proc.exitCode === null) await relay.stop();
    await target.stop();
  }
});
