/**
 * server.max_inflight in memory: bodies held open as streams stand for
 * slow senders, so what is in flight is known exactly when the next
 * request arrives. The burst against the compiled binary, with resident
 * memory, is test/faults/memory-burst.test.ts.
 */
import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const SECRET = "whsec_inflight_test";
const KB = 1024;
const CONFIG = `
[server]
max_body = "64kb"
max_inflight = "100kb"
[[sources]]
name = "p"
verify = { preset = "ploints", secret = "${SECRET}" }
`;

let relay: TestRelay;
afterEach(async () => relay?.close());

/** A signed JSON body of exactly `size` bytes with `$.id` = id. */
function event(id: string, size: number): { body: Uint8Array; signature: string } {
  const head = `{"id":"${id}","pad":"`;
  const body = new TextEncoder().encode(head + "x".repeat(size - head.length - 2) + `"}`);
  return { body, signature: createHmac("sha256", SECRET).update(body).digest("hex") };
}

/**
 * A request whose body is sent in the given pieces, one per read; the last
 * piece waits for `finish()`. `read(n)` resolves once the relay has read n pieces.
 */
function slowSender(id: string, size: number, pieces: number[], headers: Record<string, string> = {}) {
  const { body, signature } = event(id, size);
  let sent = 0;
  let at = 0;
  let finish = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const waiters: { n: number; wake: () => void }[] = [];
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      // A pull after piece n means piece n was taken by the reader.
      for (const w of waiters) if (sent >= w.n) w.wake();
      if (sent === pieces.length) return c.close();
      if (sent === pieces.length - 1) await finished;
      c.enqueue(body.slice(at, at + pieces[sent]!));
      at += pieces[sent]!;
      sent++;
    },
    cancel() {
      for (const w of waiters) w.wake();
    },
  }, { highWaterMark: 0 });
  const response = relay.app.publicApp.handle(
    new Request("http://127.0.0.1/in/p", { method: "POST", body: stream, headers: { "x-ploints-signature": signature, ...headers } }),
  );
  return {
    response,
    read: (n: number) => new Promise<void>((wake) => waiters.push({ n, wake })),
    finish,
    pulls: () => sent,
  };
}

const post = (id: string, size: number) => {
  const { body, signature } = event(id, size);
  return relay.post("p", body, { "x-ploints-signature": signature, "content-length": String(size) });
};

const storedKeys = async () => (await rows(relay.store, "SELECT dedupe_key FROM events")).map((r) => String(r.dedupe_key));

test("a body whose Content-Length does not fit beside the bodies in flight gets 503 + Retry-After before it is read", async () => {
  relay = await startTestRelay(CONFIG);
  const held = slowSender("held", 61 * KB, [60 * KB, KB]);
  await held.read(1);
  // 60 KB in flight: 50 KB more would pass 100 KB. Its body is a stream
  // that counts its pulls, to show it was not read.
  const refusedBody = slowSender("refused", 50 * KB, [50 * KB], { "content-length": String(50 * KB) });
  const refused = await refusedBody.response;
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("5");
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("server_busy");
  expect(refusedBody.pulls()).toBe(0);
  // 30 KB fits beside the 60 KB.
  expect((await post("fits", 30 * KB)).status).toBe(200);
  held.finish();
  expect((await held.response).status).toBe(200);
  // Once the held body is stored its share is back: the refused one now fits.
  expect((await post("refused", 50 * KB)).status).toBe(200);
  expect((await storedKeys()).sort()).toEqual(["fits", "held", "refused"]);
});

test("chunked bodies are counted as they are read and refused mid-read once the total passes max_inflight", async () => {
  relay = await startTestRelay(CONFIG);
  const held = slowSender("held", 61 * KB, [60 * KB, KB]);
  await held.read(1);
  // 30 KB fits (90 KB in flight), the next 30 KB does not.
  const second = slowSender("second", 62 * KB, [30 * KB, 30 * KB, 2 * KB]);
  second.finish();
  const refused = await second.response;
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("5");
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("server_busy");
  held.finish();
  expect((await held.response).status).toBe(200);
  expect(await storedKeys()).toEqual(["held"]);
});

test("every request gives its share back: answered, refused, too large or broken", async () => {
  relay = await startTestRelay(CONFIG);
  expect((await post("a", 40 * KB)).status).toBe(200);
  const tooLarge = slowSender("large", 90 * KB, [40 * KB, 40 * KB, 10 * KB]);
  tooLarge.finish();
  expect((await tooLarge.response).status).toBe(413);
  const refused = slowSender("refused", 60 * KB, [60 * KB], { "content-length": String(200 * KB) });
  expect((await refused.response).status).toBe(413);
  // A body that ends before it is complete: the sender is gone.
  const broken = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(30 * KB));
      c.error(new Error("connection reset"));
    },
  });
  expect((await relay.app.publicApp.handle(new Request("http://127.0.0.1/in/p", { method: "POST", body: broken, headers: { "x-ploints-signature": "00" } }))).status).toBe(400);
  // Nothing is left held: 40 KB held open and 60 KB declared fill the 100 KB exactly.
  const held = slowSender("held", 41 * KB, [40 * KB, KB]);
  await held.read(1);
  expect((await post("b", 60 * KB)).status).toBe(200);
  held.finish();
  expect((await held.response).status).toBe(200);
});
