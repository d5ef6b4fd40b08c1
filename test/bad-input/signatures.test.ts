/**
 * Hostile or sloppy signature input at the compiled binary's public port:
 * duplicated and comma-joined signature headers (duplicate header lines are
 * written on the raw socket, as a proxy might), timestamps that are not plain
 * seconds, the edges of the tolerance window, and replays. The random and
 * mutated-input fuzzing of every signature-header parser lives beside the
 * parsers: src/core/verify/fuzz.test.ts ("fuzzing every verifier").
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { sign as githubSign } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import type { RunningBinary } from "../support/binary.ts";
import { rawHttp, recordingTarget, relayToml, scratchDir, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const SW_SECRET = "whsec_" + Buffer.from("bad-input-suite-key-32-bytes!!!!").toString("base64");
const STRIPE_SECRET = "whsec_stripe_bad_input";
const GITHUB_SECRET = "It's a Secret to Everybody";
const POINT_SECRET = "point_bad_input";
const CUSTOM_SECRET = "custom_bad_input";

const tmp = scratchDir("hookrelay-badsig-");
const target = recordingTarget();
let bin: RunningBinary;
let port: number;

beforeAll(async () => {
  const extra = `
[[sources]]
name = "sw"
verify = { preset = "standard-webhooks", secret = "${SW_SECRET}", tolerance = "5m" }
[[sources]]
name = "stripe"
verify = { preset = "stripe", secret = "${STRIPE_SECRET}", tolerance = "5m" }
[[sources]]
name = "gh"
verify = { preset = "github", secret = "${GITHUB_SECRET}" }
[[sources]]
name = "point"
verify = { preset = "point", secret = "${POINT_SECRET}", tolerance = "5m" }
[[sources]]
name = "custom"
verify = { scheme = "hmac", header = "X-Signature", signed = "{timestamp}.{body}", timestamp_header = "X-Timestamp", tolerance = "5m", secret = "${CUSTOM_SECRET}" }
[[routes]]
from = "sw"
to = ["t0"]
[[routes]]
from = "stripe"
to = ["t0"]
`;
  bin = await serveBinary(tmp.dir, relayToml({ targets: [{ url: target.url }], extra }));
  port = Number(new URL(bin.publicUrl).port);
});

afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop();
  await target.stop();
  tmp.remove();
});

const nowS = () => Math.floor(Date.now() / 1000);
const hmacHex = (secret: string, content: string) => createHmac("sha256", secret).update(content).digest("hex");
const swSign = (id: string, ts: number, body: string) => new Webhook(SW_SECRET).sign(id, new Date(ts * 1000), body);
/** Standard Webhooks v1 over the timestamp string exactly as sent (the library only takes a Date). */
const swSignRaw = (id: string, ts: string, body: string) =>
  "v1," + createHmac("sha256", Buffer.from(SW_SECRET.slice(6), "base64")).update(`${id}.${ts}.${body}`).digest("base64");
const stripeSig = (t: number | string, body: string) => hmacHex(STRIPE_SECRET, `${t}.${body}`);

async function post(source: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${bin.publicUrl}/in/${source}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  return { status: res.status, json: (await res.json()) as { id?: string; duplicate?: boolean; error?: { code: string } } };
}

/** One request with header lines exactly as given (duplicates stay separate lines on the wire). */
async function rawPost(source: string, body: string, headerLines: [string, string][]) {
  const head = [`POST /in/${source} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`, "Connection: close"];
  for (const [k, v] of headerLines) head.push(`${k}: ${v}`);
  const reply = await rawHttp(port, [head.join("\r\n") + "\r\n\r\n" + body]);
  const json = reply.text.slice(reply.text.indexOf("\r\n\r\n") + 4);
  return { status: reply.status, body: json };
}

test("a Standard Webhooks signature header sent twice verifies when either line matches, and never when neither does", async () => {
  const ts = nowS();
  const body = '{"type":"dup.sw","n":1}';
  const good = swSign("msg_dup_1", ts, body);
  const bad = swSign("msg_other", ts, body);
  const base: [string, string][] = [["webhook-id", "msg_dup_1"], ["webhook-timestamp", String(ts)]];
  expect((await rawPost("sw", body, [...base, ["webhook-signature", bad], ["webhook-signature", good]])).status).toBe(200);
  expect((await rawPost("sw", body.replace("1", "2"), [...base, ["webhook-signature", good], ["webhook-signature", bad]])).status).toBe(401);
  const neither = await rawPost("sw", body, [["webhook-id", "msg_dup_2"], ["webhook-timestamp", String(ts)], ["webhook-signature", bad], ["webhook-signature", bad]]);
  expect(neither.status).toBe(401);
  expect(JSON.parse(neither.body).error.code).toBe("bad_signature");
});

test("two Stripe-Signature lines with one timestamp verify; with two different timestamps the request is malformed", async () => {
  const t = nowS();
  const body = '{"id":"evt_dup_stripe","type":"charge.succeeded"}';
  const ok = await rawPost("stripe", body, [["Stripe-Signature", `t=${t},v1=${"0".repeat(64)}`], ["Stripe-Signature", `t=${t},v1=${stripeSig(t, body)}`]]);
  expect(ok.status).toBe(200);
  const two = await rawPost("stripe", body.replace("dup", "dup2"), [
    ["Stripe-Signature", `t=${t - 1},v1=${stripeSig(t - 1, body.replace("dup", "dup2"))}`],
    ["Stripe-Signature", `t=${t},v1=${stripeSig(t, body.replace("dup", "dup2"))}`],
  ]);
  expect(two.status).toBe(401);
  expect(JSON.parse(two.body).error.code).toBe("malformed_signature");
});

test("single-value signature headers (GitHub, ploints) sent twice verify when either copy matches, never when neither does", async () => {
  const body = '{"action":"opened"}';
  const good = await githubSign(GITHUB_SECRET, body);
  const wrong = `sha256=${"0".repeat(64)}`;
  const gh = (delivery: string, sigs: string[]) => rawPost("gh", body, [["X-GitHub-Delivery", delivery], ...sigs.map((v): [string, string] => ["X-Hub-Signature-256", v])]);
  expect((await gh("d-1", [wrong, good])).status).toBe(200);
  expect((await gh("d-2", [good, wrong])).status).toBe(200);
  const neither = await gh("d-3", [wrong, wrong]);
  expect(neither.status).toBe(401);
  expect(JSON.parse(neither.body).error.code).toBe("bad_signature");
  const p = '{"id":"dup_ploints"}';
  const sig = createHmac("sha256", "whsec_fault_suite_provider").update(p).digest("hex");
  expect((await rawPost("p", p, [["X-Ploints-Signature", "f".repeat(64)], ["X-Ploints-Signature", sig]])).status).toBe(200);
  expect((await rawPost("p", p.replace("dup", "dup2"), [["X-Ploints-Signature", sig], ["X-Ploints-Signature", sig]])).status).toBe(401);
});

test("comma- and space-joined signature lists verify when any entry matches", async () => {
  const ts = nowS();
  const body = '{"type":"joined"}';
  const good = swSign("msg_joined", ts, body);
  const wrong = swSign("msg_x", ts, body);
  // Standard Webhooks separates entries by spaces; a comma join is what a proxy makes of two lines.
  for (const sig of [`${wrong} ${good}`, `${wrong}, ${good}`, `v1a,${"A".repeat(44)} ${good}`]) {
    expect((await post("sw", body, { "webhook-id": "msg_joined", "webhook-timestamp": String(ts), "webhook-signature": sig })).status).toBe(200);
  }
  const t = nowS();
  const sb = '{"id":"evt_joined","type":"x"}';
  expect((await post("stripe", sb, { "stripe-signature": `t=${t},v1=${"f".repeat(64)},v1=${stripeSig(t, sb)},v0=abc` })).status).toBe(200);
  expect((await post("stripe", sb, { "stripe-signature": `t=${t},v1=${"f".repeat(64)},v0=${stripeSig(t, sb)}` })).status).toBe(401);
});

test("non-numeric, float, millisecond and negative timestamps are rejected with a reason, never stored", async () => {
  const body = '{"type":"ts.bad"}';
  const ms = String(Date.now());
  const outcome = async (ts: string) => {
    // Each is signed over the timestamp exactly as sent, so only the timestamp rule can reject it.
    const id = `msg_ts_${Bun.hash(ts)}`;
    const sw = await post("sw", body, { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": swSignRaw(id, ts, body) });
    const custom = await post("custom", body, { "x-timestamp": ts, "x-signature": hmacHex(CUSTOM_SECRET, `${ts}.${body}`) });
    const stripe = await post("stripe", body, { "stripe-signature": `t=${ts},v1=${stripeSig(ts, body)}` });
    const code = (r: Awaited<ReturnType<typeof post>>) => (r.status === 200 ? 200 : `${r.status} ${r.json.error!.code}`);
    return [code(sw), code(custom), code(stripe)];
  };
  const now = nowS();
  const cases: Record<string, string> = { abc: "abc", float: `${now}.5`, negative: "-5", exponent: "1e9", hex: "0x10", "plus sign": `+${now}`, milliseconds: ms };
  const table: Record<string, unknown[]> = {};
  for (const [name, ts] of Object.entries(cases)) table[name] = await outcome(ts);
  const bad = ["401 bad_timestamp", "401 bad_timestamp", "401 bad_timestamp"];
  expect(table).toEqual({
    abc: bad,
    float: bad,
    negative: bad,
    exponent: bad,
    hex: bad,
    "plus sign": bad,
    // Milliseconds read as seconds lie ~55,000 years ahead: Stripe's too (stripe-node bounds only the past).
    milliseconds: ["401 future_timestamp", "401 future_timestamp", "401 future_timestamp"],
  });
  // Point signs milliseconds: a seconds value is ~55 years in the past, a milliseconds value is now.
  const s = String(nowS());
  const point = await post("point", body, { "point-signature": `t=${s},v1=${hmacHex(POINT_SECRET, `${s}.${body}`)}` });
  expect(point).toMatchObject({ status: 401, json: { error: { code: "stale_timestamp" } } });
  expect((await post("point", body, { "point-signature": `t=${ms},v1=${hmacHex(POINT_SECRET, `${ms}.${body}`)}` })).status).toBe(200);
  // Nothing rejected was stored.
  const stored = (await (await fetch(`${bin.adminUrl}/api/events?type=ts.bad`)).json()) as { events: { source: string }[] };
  expect(stored.events.map((e) => e.source)).toEqual([]);
});

test("timestamps just inside the tolerance pass and just outside fail, in both directions, Stripe's too", async () => {
  const body = '{"type":"edge"}';
  const at = async (offsetS: number) => {
    const ts = nowS() + offsetS;
    const id = `msg_edge_${offsetS}_${ts}`;
    return post("custom", body, { "x-timestamp": String(ts), "x-signature": hmacHex(CUSTOM_SECRET, `${ts}.${body}`), "x-edge": id }).then(async (custom) => ({
      custom: custom.status === 200 ? 200 : custom.json.error!.code,
      sw: await post("sw", `{"type":"edge","id":"${id}"}`, { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": swSign(id, ts, `{"type":"edge","id":"${id}"}`) }).then((r) =>
        r.status === 200 ? 200 : r.json.error!.code,
      ),
      stripe: await post("stripe", `{"id":"${id}"}`, { "stripe-signature": `t=${ts},v1=${stripeSig(ts, `{"id":"${id}"}`)}` }).then((r) => (r.status === 200 ? 200 : r.json.error!.code)),
    }));
  };
  // 5 s of margin on each side of the 300 s edge absorbs the time the request takes.
  expect(await at(-295)).toEqual({ custom: 200, sw: 200, stripe: 200 });
  expect(await at(-305)).toEqual({ custom: "stale_timestamp", sw: "stale_timestamp", stripe: "stale_timestamp" });
  expect(await at(295)).toEqual({ custom: 200, sw: 200, stripe: 200 });
  expect(await at(305)).toEqual({ custom: "future_timestamp", sw: "future_timestamp", stripe: "future_timestamp" });
});

test("a replay of a signed request inside the tolerance gets the original id, is not stored again and is delivered once", async () => {
  const ts = nowS();
  const body = '{"type":"replayed","amount":100}';
  const headers = { "webhook-id": "msg_replay", "webhook-timestamp": String(ts), "webhook-signature": swSign("msg_replay", ts, body) };
  const first = await post("sw", body, headers);
  expect(first.status).toBe(200);
  const replays = await Promise.all(Array.from({ length: 5 }, () => post("sw", body, headers)));
  for (const r of replays) expect(r).toEqual({ status: 200, json: { id: first.json.id, duplicate: true } });
  // A Stripe retry re-signs with a new t: still the same event (dedupe on the body's id).
  const sb = '{"id":"evt_replay_stripe","type":"x"}';
  const s1 = await post("stripe", sb, { "stripe-signature": `t=${ts},v1=${stripeSig(ts, sb)}` });
  const s2 = await post("stripe", sb, { "stripe-signature": `t=${ts + 3},v1=${stripeSig(ts + 3, sb)}` });
  expect(s2.json).toEqual({ id: s1.json.id, duplicate: true });
  await waitFor("both deliveries", () => target.byId.has(first.json.id!) && target.byId.has(s1.json.id!), 5_000);
  const ev = (await (await fetch(`${bin.adminUrl}/api/events/${first.json.id}`)).json()) as { duplicates: number; deliveries: unknown[] };
  expect(ev.duplicates).toBe(5);
  expect(ev.deliveries).toHaveLength(1);
  // Give a second delivery every chance to show up: a later event is delivered first.
  const later = await post("stripe", '{"id":"evt_later"}', { "stripe-signature": `t=${ts},v1=${stripeSig(ts, '{"id":"evt_later"}')}` });
  await waitFor("the later delivery", () => target.byId.has(later.json.id!), 5_000);
  expect(target.byId.get(first.json.id!)).toBe(1);
  expect(target.byId.get(s1.json.id!)).toBe(1);
});
