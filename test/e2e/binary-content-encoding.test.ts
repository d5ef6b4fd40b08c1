/**
 * Compressed bodies through the compiled binary: verified over the bytes as
 * received, deduped and typed from the decoded body, stored and forwarded
 * with their Content-Encoding and their exact bytes; a body that does not
 * decode (or decodes past max_body) is still stored and forwarded, keyed by
 * its hash, and decoding a bomb stops at the cap.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import Stripe from "stripe";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const SECRET = "whsec_content_encoding_test";
const tmp = tempDir("hookrelay-encoding-");
const received: { encoding: string | null; body: Uint8Array }[] = [];
const target = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    received.push({ encoding: req.headers.get("content-encoding"), body: new Uint8Array(await req.arrayBuffer()) });
    return new Response("ok");
  },
});
let relay: RunningBinary;

beforeAll(async () => {
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
max_body = "2mb"
[store]
url = "file:./relay.db"
[[sources]]
name = "stripe"
verify = { preset = "stripe", secret = "${SECRET}" }
[[targets]]
name = "app"
url = "http://127.0.0.1:${target.port}/hooks"
signing = { secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
retry = { schedule = ["0s"] }
[[routes]]
from = "stripe"
to = ["app"]
`,
  );
  relay = await startBinary(["serve", "--config", cfg], tmp.dir);
});
afterAll(async () => {
  await relay?.stop();
  target.stop(true);
  tmp.remove();
});

/**
 * Stripe's scheme over exact bytes. The official library signs strings only
 * (UTF-8), and compressed bytes are not UTF-8 text, so the test signs with
 * node:crypto and checks that helper against stripe-node on a text body.
 */
function stripeSignature(body: Uint8Array, timestamp: number): string {
  const mac = createHmac("sha256", SECRET).update(`${timestamp}.`).update(body).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

const now = () => Math.floor(Date.now() / 1000);
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function send(body: Uint8Array, encoding: string) {
  const res = await fetch(`${relay.publicUrl}/in/stripe`, {
    method: "POST",
    body: body as BodyInit,
    headers: { "content-type": "application/json", "content-encoding": encoding, "stripe-signature": stripeSignature(body, now()) },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; duplicate?: boolean };
}

async function event(id: string): Promise<{ eventType: string | null; dedupeKey: string; request: { headers: [string, string][] } }> {
  return (await fetch(`${relay.adminUrl}/api/events/${id}`)).json() as never;
}

/** Waits (bounded) until the target has seen `n` requests. */
async function receivedAtLeast(n: number) {
  const deadline = Date.now() + 10_000;
  while (received.length < n && Date.now() < deadline) await Bun.sleep(20);
  expect(received.length).toBeGreaterThanOrEqual(n);
}

test("the signing helper is Stripe's scheme, as the official library computes it", async () => {
  const stripe = new Stripe("sk_test_unused");
  const text = '{"id":"evt_x","note":"ë Ñ ú ✓"}';
  expect(stripeSignature(new TextEncoder().encode(text), 1_700_000_000)).toBe(
    await stripe.webhooks.generateTestHeaderStringAsync({ payload: text, secret: SECRET, timestamp: 1_700_000_000 }),
  );
});

test("compressed bodies are deduped and typed from the decoded body and forwarded with Content-Encoding and their exact bytes", async () => {
  const payload = (id: string) => JSON.stringify({ id, type: "invoice.paid", note: "ë Ñ ú ✓" });
  const gz = gzipSync(payload("evt_gz"), { level: 9 });
  const gzAgain = gzipSync(payload("evt_gz"), { level: 1 }); // the provider's retry, compressed differently
  expect(Buffer.compare(gz, gzAgain)).not.toBe(0);
  const others: [string, Uint8Array][] = [
    ["deflate", deflateSync(payload("evt_deflate"))],
    ["br", brotliCompressSync(payload("evt_br"))],
    ["zstd", zstdCompressSync(payload("evt_zstd"))],
  ];

  const first = await send(gz, "gzip");
  expect(await send(gzAgain, "gzip")).toEqual({ id: first.id, duplicate: true });
  const stored = await event(first.id);
  expect(stored).toMatchObject({ eventType: "invoice.paid", dedupeKey: "evt_gz" });
  expect(stored.request.headers).toContainEqual(["content-encoding", "gzip"]);
  for (const [encoding, body] of others) {
    const { id } = await send(body, encoding);
    expect(await event(id)).toMatchObject({ eventType: "invoice.paid", dedupeKey: `evt_${encoding}` });
  }

  await receivedAtLeast(4);
  const sent = [["gzip", gz] as const, ...others];
  for (const [encoding, body] of sent) {
    const got = received.find((r) => Buffer.compare(r.body, body) === 0);
    expect({ encoding, got: got?.encoding }).toEqual({ encoding, got: encoding });
  }
});

test("a body that does not decode is stored and forwarded as received, keyed by its hash", async () => {
  const body = new TextEncoder().encode('{"id":"evt_not_gzip","type":"x"}');
  const before = received.length;
  const { id } = await send(body, "gzip");
  expect(await event(id)).toMatchObject({ eventType: null, dedupeKey: sha(body) });
  await receivedAtLeast(before + 1);
  expect(received.find((r) => Buffer.compare(r.body, body) === 0)?.encoding).toBe("gzip");
});

test("a gzip bomb is stored and forwarded as received, decoding stopped at max_body", async () => {
  // 1 MB of concatenated gzip members that would inflate to 1 GB.
  const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: 1000 }, () => member));
  const before = received.length;
  const { id } = await send(bomb, "gzip");
  expect(await event(id)).toMatchObject({ eventType: null, dedupeKey: sha(bomb) });
  await receivedAtLeast(before + 1);
  expect(received.some((r) => Buffer.compare(r.body, bomb) === 0)).toBe(true);
  // Peak resident memory of the relay: inflating the bomb would have taken over a gigabyte.
  const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${relay.proc.pid}/status`, "utf8"))![1]);
  expect(peakKb).toBeLessThan(400 * 1024);
  expect(relay.logs()).toContain('"msg":"body not decoded"');
});
