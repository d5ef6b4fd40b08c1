/**
 * The relay side of `hookrelay listen`, over a real WebSocket on port 0 with a
 * raw client speaking the protocol (docs/LISTEN.md): auth, ack → delivered,
 * nack → retried, disconnect → re-sent, one client per target.
 */
import { afterEach, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import type { DeliveryMessage } from "../../src/core/listen-protocol.ts";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN = "tok-alice-0123456789";
const config = (schedule = '["0s", "5m"]') => `
[[sources]]
name = "src"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "alice"
kind = "listen"
token = "${TOKEN}"
signing = { secret = "${SECRET}" }
retry = { schedule = ${schedule}, jitter = 0 }
[[targets]]
name = "pushy"
url = "http://127.0.0.1:9/never"
enabled = false
[[routes]]
from = "src"
to = ["alice"]
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  // A step may find its piece already stopped by the test (a relay restart).
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

async function relayOnPort(schedule?: string): Promise<{ relay: TestRelay; wsUrl: (t: string) => string }> {
  const relay = await startTestRelay(config(schedule), { engine: { pollMs: 200 } });
  relay.app.publicApp.listen({ hostname: "127.0.0.1", port: 0 });
  cleanups.push(() => relay.close(), () => relay.app.publicApp.stop(true), () => relay.app.listen.stop());
  const port = relay.app.publicApp.server!.port;
  return { relay, wsUrl: (t) => `ws://127.0.0.1:${port}/listen/${t}` };
}

/** A raw protocol client: a queue of frames, and the close event once it comes. */
function rawClient(url: string, token: string | null) {
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const frames: Record<string, unknown>[] = [];
  let closed: { code: number; reason: string } | null = null;
  let error: string | null = null;
  ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
  ws.onerror = (e) => (error = (e as ErrorEvent).message ?? "error");
  ws.onclose = (e) => (closed = { code: e.code, reason: e.reason });
  cleanups.push(() => ws.close());
  return {
    ws,
    frames,
    closed: () => closed,
    error: () => error,
    /** Waits for the next frame of `type` not yet taken. */
    async next<T = Record<string, unknown>>(type: string, timeoutMs = 5000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const i = frames.findIndex((f) => f.type === type);
        if (i >= 0) return frames.splice(i, 1)[0] as T;
        await Bun.sleep(10);
      }
      throw new Error(`no "${type}" frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`);
    },
    ack(d: DeliveryMessage, ok = true, status = ok ? 200 : 500) {
      ws.send(JSON.stringify({ type: "ack", deliveryId: d.deliveryId, ok, status, durationMs: 3, error: ok ? null : `HTTP ${status}` }));
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const deliveryRow = async (relay: TestRelay, id: string) =>
  (await rows(relay.store, "SELECT status, attempts, lease_id FROM deliveries WHERE id = ?", [id]))[0]!;
const attemptRows = (relay: TestRelay, id: string) =>
  rows(relay.store, "SELECT status_code, duration_ms, error FROM attempts WHERE delivery_id = ? ORDER BY at, id", [id]);

test("a missing or wrong token, an unknown name and a push target all get the same 401, before the upgrade", async () => {
  const { relay, wsUrl } = await relayOnPort();
  const get = (target: string, auth?: string) =>
    relay.app.publicApp.handle(new Request(`http://127.0.0.1/listen/${target}`, { headers: auth ? { authorization: auth } : {} }));
  const answer = async (res: Response) => ({ status: res.status, headers: [...res.headers].filter(([k]) => k !== "date"), body: await res.text() });
  expect((await get("alice", `Bearer ${TOKEN}`)).status).toBe(426);
  // Five refusals: the most an address gets before it must wait.
  const refusals = [
    await answer(await get("alice")),
    await answer(await get("alice", "Bearer nope")),
    await answer(await get("alice", TOKEN)), // the scheme is required
    await answer(await get("nobody", `Bearer ${TOKEN}`)),
    await answer(await get("pushy", `Bearer ${TOKEN}`)),
  ];
  expect(refusals[0]!.status).toBe(401);
  // Nothing in the answer tells a real name from an unknown one.
  for (const r of refusals) expect(r).toEqual(refusals[0]!);

  const wrong = rawClient(wsUrl("alice"), "nope");
  await until("refusal", async () => wrong.closed());
  expect(wrong.error()).toContain("401");
  const unknown = rawClient(wsUrl("nobody"), TOKEN);
  await until("refusal", async () => unknown.closed());
  expect(unknown.error()).toContain("401");
  expect(relay.app.listen.connected()).toEqual([]);
});

test("wrong listen tokens get 429 after five, even with the right token, which works again once the back-off has passed", async () => {
  const clock = { now: Date.now() };
  const relay = await startTestRelay(config(), { nowMs: () => clock.now });
  cleanups.push(() => relay.close(), () => relay.app.listen.stop());
  const get = (target: string, token: string) =>
    relay.app.publicApp.handle(new Request(`http://127.0.0.1/listen/${target}`, { headers: { authorization: `Bearer ${token}` } }));
  for (let i = 0; i < 5; i++) expect((await get(i % 2 ? "alice" : "nobody", "nope")).status).toBe(401);
  const limited = await get("alice", "nope");
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toBe("1");
  expect((await get("alice", TOKEN)).status).toBe(429);
  expect((await get("nobody", TOKEN)).status).toBe(429);
  clock.now += 1000;
  expect((await get("alice", TOKEN)).status).toBe(426);
});

test("the right token of one listen target does not clear a streak of guesses at another's", async () => {
  const relay = await startTestRelay(config());
  cleanups.push(() => relay.close(), () => relay.app.listen.stop());
  const get = (target: string, token: string) =>
    relay.app.publicApp.handle(new Request(`http://127.0.0.1/listen/${target}`, { headers: { authorization: `Bearer ${token}` } }));
  const answers: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2; i++) answers.push((await get("nobody", `guess-${round}-${i}`)).status);
    answers.push((await get("alice", TOKEN)).status);
  }
  expect(answers).toEqual([401, 401, 426, 401, 401, 426, 401, 429, 429]);
});

test("an acked delivery is delivered with one attempt row, and deliveries go out one at a time in receive order", async () => {
  const { relay, wsUrl } = await relayOnPort();
  const bodies = ['{"type":"a.one","n":1}', '{"type":"a.two","n":2}\n'];
  const ids: string[] = [];
  for (const b of bodies) ids.push(((await (await relay.post("src", b)).json()) as { id: string }).id);

  const c = rawClient(wsUrl("alice"), TOKEN);
  expect(await c.next("ready")).toMatchObject({ target: "alice", protocol: 1 });
  const first = await c.next<DeliveryMessage>("delivery");
  expect(first).toMatchObject({ webhookId: ids[0], attempt: 1, eventType: "a.one", source: "src" });
  expect(Buffer.from(first.bodyBase64, "base64").toString()).toBe(bodies[0]!);
  // The headers are the ones a push target would get, signed with the target's secret.
  const headers = Object.fromEntries(first.headers);
  expect(new Webhook(SECRET).verify(bodies[0]!, headers)).toEqual({ type: "a.one", n: 1 });
  expect(headers["hookrelay-event-type"]).toBe("a.one");

  // Ordered: nothing else is sent before the first is acked.
  await Bun.sleep(300);
  expect(c.frames).toEqual([]);
  c.ack(first);
  const second = await c.next<DeliveryMessage>("delivery");
  expect(second.webhookId).toBe(ids[1]!);
  expect(Buffer.from(second.bodyBase64, "base64").toString()).toBe(bodies[1]!);
  c.ack(second);

  for (const d of [first, second]) {
    await until("delivered", async () => (await deliveryRow(relay, d.deliveryId)).status === "delivered");
    expect(await deliveryRow(relay, d.deliveryId)).toMatchObject({ attempts: 1, lease_id: null });
    expect(await attemptRows(relay, d.deliveryId)).toEqual([expect.objectContaining({ status_code: 200, duration_ms: 3, error: null })]);
  }
  // The metric counts an attempt once its outcome is committed, a moment after the row is visible: poll it too.
  const metric = 'hookrelay_deliveries_total{target="alice",outcome="delivered"} 2';
  expect(await until("metric", async () => (await relay.app.metrics.render()).includes(metric))).toBe(true);
});

test("an event ingested while a client is connected is pushed to it promptly", async () => {
  const { relay, wsUrl } = await relayOnPort();
  const c = rawClient(wsUrl("alice"), TOKEN);
  await c.next("ready");
  const started = Date.now();
  await relay.post("src", '{"type":"live"}');
  const d = await c.next<DeliveryMessage>("delivery", 2000);
  expect(d.eventType).toBe("live");
  expect(Date.now() - started).toBeLessThan(1000);
});

test("a delivery in flight when the client disconnects is re-sent on reconnect without counting an attempt", async () => {
  const { relay, wsUrl } = await relayOnPort();
  await relay.post("src", '{"type":"x"}');
  const c1 = rawClient(wsUrl("alice"), TOKEN);
  const d1 = await c1.next<DeliveryMessage>("delivery");
  c1.ws.close();
  await until("lease released", async () => (await deliveryRow(relay, d1.deliveryId)).status === "pending");

  const c2 = rawClient(wsUrl("alice"), TOKEN);
  const d2 = await c2.next<DeliveryMessage>("delivery");
  expect(d2).toMatchObject({ deliveryId: d1.deliveryId, attempt: 1 });
  c2.ack(d2);
  await until("delivered", async () => (await deliveryRow(relay, d2.deliveryId)).status === "delivered");
  expect(await attemptRows(relay, d2.deliveryId)).toHaveLength(1);
});

test("a nack records the local failure and the relay retries on the target's schedule", async () => {
  const { relay, wsUrl } = await relayOnPort('["0s", "200ms"]');
  await relay.post("src", '{"type":"x"}');
  const c = rawClient(wsUrl("alice"), TOKEN);
  const d1 = await c.next<DeliveryMessage>("delivery");
  // The client is told which attempt a failure ends the delivery with (the schedule has two).
  expect(d1).toMatchObject({ attempt: 1, lastAttempt: false });
  c.ack(d1, false, 503);
  const d2 = await c.next<DeliveryMessage>("delivery");
  expect(d2).toMatchObject({ deliveryId: d1.deliveryId, attempt: 2, lastAttempt: true });
  c.ack(d2);
  await until("delivered", async () => (await deliveryRow(relay, d2.deliveryId)).status === "delivered");
  const attempts = await attemptRows(relay, d1.deliveryId);
  expect(attempts.map((a) => [a.status_code, a.error])).toEqual([
    [503, "HTTP 503"],
    [200, null],
  ]);
});

test("a client that connects gets its target's failed deliveries at once, not at the schedule's next step, the line behind them following", async () => {
  // Schedule: a second attempt 5 minutes after a nack.
  const { relay, wsUrl } = await relayOnPort();
  await relay.post("src", '{"type":"first"}');
  await relay.post("src", '{"type":"second"}');
  const c1 = rawClient(wsUrl("alice"), TOKEN);
  const d1 = await c1.next<DeliveryMessage>("delivery");
  c1.ack(d1, false, 502);
  await until("the nack recorded", async () => (await deliveryRow(relay, d1.deliveryId)).attempts === 1);
  // The line is held: an ordered target's second event waits behind the first's retry.
  await Bun.sleep(300);
  expect(c1.frames.filter((f) => f.type === "delivery")).toEqual([]);
  c1.ws.close();
  // The developer fixes the app and starts the client again.
  const c2 = rawClient(wsUrl("alice"), TOKEN);
  const again = await c2.next<DeliveryMessage>("delivery", 3000);
  expect(again).toMatchObject({ deliveryId: d1.deliveryId, attempt: 2 });
  c2.ack(again);
  const next = await c2.next<DeliveryMessage>("delivery", 3000);
  expect(next.deliveryId).not.toBe(d1.deliveryId);
  c2.ack(next);
  await until("both delivered", async () => (await deliveryRow(relay, next.deliveryId)).status === "delivered");
});

test("a second client for the same target replaces the first, which is closed with 4009", async () => {
  const { relay, wsUrl } = await relayOnPort();
  const c1 = rawClient(wsUrl("alice"), TOKEN);
  await c1.next("ready");
  const c2 = rawClient(wsUrl("alice"), TOKEN);
  await c2.next("ready");
  const closed = await until("first closed", async () => c1.closed());
  expect(closed.code).toBe(4009);
  await relay.post("src", '{"type":"x"}');
  expect((await c2.next<DeliveryMessage>("delivery")).eventType).toBe("x");
  expect(relay.app.listen.connected()).toEqual(["alice"]);
});
