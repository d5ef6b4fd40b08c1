/**
 * The `hookrelay listen` client in process against a relay on port 0 and a
 * local receiver on port 0: routing by event type, exact bytes, ack only after
 * a 2xx, reconnect after the relay drops it, and refusal on a wrong token.
 */
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createServer as createTcpServer, type Socket } from "node:net";
import { createApp } from "../../src/app.ts";
import { createDeliveryEngine } from "../../src/delivery/engine.ts";
import { createLogger, silentLogger } from "../../src/log/logger.ts";
import { startListenClient, type ListenClient } from "../../src/listen/client.ts";
import { parseForwardRoutes } from "../../src/listen/forward-routes.ts";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";

const TOKEN = "tok-alice-0123456789";
const CONFIG = `
[[sources]]
name = "src"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "alice"
kind = "listen"
token = "${TOKEN}"
retry = { schedule = ["0s", "100ms", "100ms"], jitter = 0 }
[[routes]]
from = "src"
to = ["alice"]
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  // A step may find its piece already stopped by the test (a relay restart).
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

async function relayOnPort(): Promise<{ relay: TestRelay; url: string }> {
  const relay = await startTestRelay(CONFIG, { engine: { pollMs: 200 } });
  relay.app.publicApp.listen({ hostname: "127.0.0.1", port: 0 });
  cleanups.push(() => relay.close(), () => relay.app.publicApp.stop(true), () => relay.app.listen.stop());
  return { relay, url: `http://127.0.0.1:${relay.app.publicApp.server!.port}` };
}

/** A local receiver on port 0; `replies` scripts statuses per request (then 200). */
function receiver(replies: number[] = []) {
  const got: { path: string; body: Uint8Array; headers: Headers }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      got.push({ path: new URL(req.url).pathname, body: new Uint8Array(await req.arrayBuffer()), headers: req.headers });
      const status = replies.shift() ?? 200;
      return new Response("ok", { status, headers: status >= 300 && status < 400 ? { location: "/elsewhere" } : {} });
    },
  });
  cleanups.push(() => server.stop(true));
  return { got, url: (path: string) => `http://127.0.0.1:${server.port}${path}` };
}

function client(relayUrl: string, forwardTo: string[], token = TOKEN): ListenClient {
  const routes = parseForwardRoutes(forwardTo);
  if (!routes.ok) throw new Error(routes.error);
  const c = startListenClient({ relayUrl, target: "alice", token, routes: routes.value, timeoutMs: 2000, backoff: { baseMs: 20, maxMs: 100 }, log: silentLogger });
  cleanups.push(() => c.stop());
  return c;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false> | T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const statuses = async (relay: TestRelay) =>
  (await rows(relay.store, "SELECT status FROM deliveries ORDER BY created_at")).map((r) => String(r.status));

test("the client posts the exact bytes to the URL for its event type and acks after a 2xx", async () => {
  const { relay, url } = await relayOnPort();
  const local = receiver();
  const bodies = ['{"type":"order.paid","note":"ë ✓"}\n', '{"type":"customer.created"}'];
  for (const b of bodies) await relay.post("src", b);
  client(url, [local.url("/hooks"), `order.*=${local.url("/orders")}`]);
  await until("both delivered", async () => (await statuses(relay)).every((s) => s === "delivered"));
  expect(local.got.map((g) => g.path)).toEqual(["/orders", "/hooks"]);
  expect(local.got.map((g) => new TextDecoder().decode(g.body))).toEqual(bodies);
  expect(local.got[0]!.headers.get("webhook-id")).toMatch(/^evt_/);
  expect(local.got[0]!.headers.get("hookrelay-event-type")).toBe("order.paid");
});

test("a local non-2xx is not acked: the relay retries and the client posts again", async () => {
  const { relay, url } = await relayOnPort();
  const local = receiver([500]);
  await relay.post("src", '{"type":"x"}');
  client(url, [local.url("/hooks")]);
  await until("delivered", async () => (await statuses(relay))[0] === "delivered");
  expect(local.got).toHaveLength(2);
  const attempts = await rows(relay.store, "SELECT status_code, error FROM attempts ORDER BY at, id");
  expect(attempts.map((a) => [a.status_code, a.error])).toEqual([
    [500, "HTTP 500"],
    [200, null],
  ]);
});

test("a local app's failures read as a push target's do: a redirect named and not followed, a refused connection a network error", async () => {
  const { relay, url } = await relayOnPort();
  const local = receiver([302]);
  await relay.post("src", '{"type":"x"}');
  // order.* goes to a port nothing listens on.
  await relay.post("src", '{"type":"order.paid"}');
  const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const nowhere = `http://127.0.0.1:${closed.port}/orders`;
  closed.stop(true);
  client(url, [local.url("/hooks"), `order.*=${nowhere}`]);
  const errors = async () => (await rows(relay.store, "SELECT error FROM attempts WHERE error IS NOT NULL")).map((a) => String(a.error));
  await until("both failed once", async () => new Set(await errors()).size >= 2);
  expect(new Set(await errors())).toEqual(new Set(["HTTP 302: redirect not followed (Location: /elsewhere)", "network error: connection refused by 127.0.0.1"]));
});

test("a local failure is logged as retried while the schedule lasts, and as the delivery's end on its last attempt", async () => {
  const { relay, url } = await relayOnPort();
  const local = receiver([500, 500, 500]);
  await relay.post("src", '{"type":"x"}');
  const routes = parseForwardRoutes([local.url("/hooks")]);
  if (!routes.ok) throw new Error(routes.error);
  const lines: { msg: string; attempt?: number; to?: string }[] = [];
  const c = startListenClient({ relayUrl: url, target: "alice", token: TOKEN, routes: routes.value, timeoutMs: 2000, backoff: { baseMs: 20, maxMs: 100 }, log: createLogger("info", (l) => lines.push(JSON.parse(l))) });
  cleanups.push(() => c.stop());
  await until("failed", async () => (await statuses(relay))[0] === "failed");
  const failures = lines.filter((l) => l.attempt !== undefined).map((l) => [l.attempt, l.msg]);
  expect(failures).toEqual([
    [1, "local target failed; the relay retries"],
    [2, "local target failed; the relay retries"],
    [3, "local target failed on the last attempt: the delivery failed (redeliver it from the relay's UI)"],
  ]);
  // Which local app it was: its address, not only the path.
  expect(lines.find((l) => l.attempt === 1)?.to).toBe(local.url("/hooks"));
});

test("the client reconnects with backoff after the relay restarts, and what was queued meanwhile flows", async () => {
  const { relay, url } = await relayOnPort();
  const local = receiver();
  client(url, [local.url("/hooks")]);
  await until("connected", () => relay.app.listen.connected().length === 1);
  const port = relay.app.publicApp.server!.port!;
  await relay.app.listen.stop();
  await relay.app.publicApp.stop(true);
  // The same store and port, a new relay process in all but name.
  const engine = createDeliveryEngine({ config: relay.config, store: relay.store, log: silentLogger, pollMs: 200 });
  const again = createApp({ config: relay.config, store: relay.store, log: silentLogger, delivery: engine });
  await engine.start();
  cleanups.push(() => engine.stop(1000));
  await again.publicApp.handle(new Request("http://127.0.0.1/in/src", { method: "POST", body: '{"type":"queued"}' }));
  again.publicApp.listen({ hostname: "127.0.0.1", port });
  cleanups.push(() => again.publicApp.stop(true), () => again.listen.stop());
  await until("delivered after reconnect", async () => (await statuses(relay))[0] === "delivered");
  expect(new TextDecoder().decode(local.got[0]!.body)).toBe('{"type":"queued"}');
  expect(again.listen.connected()).toEqual(["alice"]);
});

test("a wrong token ends the client with a clear refusal instead of retrying", async () => {
  const { url } = await relayOnPort();
  const c = client(url, ["http://127.0.0.1:9/hooks"], "wrong");
  expect(await c.done).toMatchObject({ ok: false, code: "unauthorized" });
});

test("pointed at the admin UI (a redirect to /login) the client ends, saying to use the public address, instead of retrying for good", async () => {
  // With an admin token the admin listener sends a page request without a session to /login.
  const relay = await startTestRelay(`${CONFIG}\n[admin]\ntoken = "admin-token-0123456789abcdef"\n`);
  cleanups.push(() => relay.close());
  relay.app.adminApp.listen({ hostname: "127.0.0.1", port: 0 });
  cleanups.push(() => relay.app.adminApp.stop(true));
  const admin = `http://127.0.0.1:${relay.app.adminApp.server!.port}`;
  const c = client(admin, ["http://127.0.0.1:9/hooks"]);
  const done = await c.done;
  expect(done).toMatchObject({ ok: false });
  expect((done as { message: string }).message).toContain("admin UI? Use its public address");
});

test("pointed at an ordinary HTTP server (the local app's own address) the client ends, saying what goes where", async () => {
  const app = receiver();
  const c = client(app.url("").replace(/\/$/, ""), ["http://127.0.0.1:9/hooks"]);
  const done = await c.done;
  expect(done).toMatchObject({ ok: false });
  expect((done as { message: string }).message).toContain("not a hookrelay relay's listen endpoint");
});

test("pointed at a source's URL under the relay, the client ends naming the URL it asked for and the address to give instead", async () => {
  const { url } = await relayOnPort();
  const done = await client(`${url}/in/src`, ["http://127.0.0.1:9/hooks"]).done;
  expect(done).toEqual({ ok: false, code: "unknown_target", message: `no listen endpoint at ${url}/in/src/listen/alice (404): give the relay's address alone (${url}), not a path under it` });
});

test("a relay that answers 429 (too many wrong tokens from this address) is waited for as long as it asks, and said so", async () => {
  const lines: Record<string, unknown>[] = [];
  let asked = 0;
  const askedAt: number[] = [];
  const fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      asked++;
      askedAt.push(performance.now());
      return new Response("slow down", { status: 429, headers: { "retry-after": "1" } });
    },
  });
  cleanups.push(() => fake.stop(true));
  const routes = parseForwardRoutes(["http://127.0.0.1:9/hooks"]);
  if (!routes.ok) throw new Error(routes.error);
  const c = startListenClient({
    relayUrl: `http://127.0.0.1:${fake.port}`, target: "alice", token: TOKEN, routes: routes.value, timeoutMs: 2000,
    backoff: { baseMs: 20, maxMs: 100 }, log: createLogger("info", (l) => lines.push(JSON.parse(l))),
  });
  cleanups.push(() => c.stop());
  await until("a second try", () => asked >= 2, 5000);
  expect(askedAt[1]! - askedAt[0]!).toBeGreaterThanOrEqual(950);
  expect(lines.find((l) => l.msg === "the relay asks to wait")).toMatchObject({ error: "the relay refuses this address for a while (429: too many wrong tokens from it)" });
  expect(lines.some((l) => l.msg === "cannot reach the relay")).toBe(false);
});

test("a relay that goes silent (no heartbeat) is dropped and reconnected to; a pinging relay is kept", async () => {
  // A stand-in relay: answers the preflight with 426, accepts the upgrade, sends `ready`,
  // then pings only when told to. Each upgrade counts as one connection.
  let connections = 0;
  let pinging = false;
  const sockets = new Set<import("bun").ServerWebSocket<unknown>>();
  const fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, server) {
      if (req.headers.get("upgrade") === "websocket" && server.upgrade(req)) return undefined;
      return new Response("upgrade required", { status: 426 });
    },
    websocket: {
      open(ws) {
        connections++;
        sockets.add(ws);
        ws.send(JSON.stringify({ type: "ready", target: "alice", protocol: 1 }));
      },
      close(ws) {
        sockets.delete(ws);
      },
      message() {},
    },
  });
  const pinger = setInterval(() => {
    if (pinging) for (const ws of sockets) ws.send(JSON.stringify({ type: "ping" }));
  }, 50);
  cleanups.push(() => clearInterval(pinger), () => fake.stop(true));
  const routes = parseForwardRoutes(["http://127.0.0.1:9/x"]);
  if (!routes.ok) throw new Error(routes.error);
  const c = startListenClient({
    relayUrl: `http://127.0.0.1:${fake.port}`, target: "alice", token: TOKEN, routes: routes.value,
    // A second of silence: the fake relay shares this event loop, and a stall must not pass for silence.
    timeoutMs: 500, backoff: { baseMs: 20, maxMs: 50 }, log: silentLogger, silenceMs: 1000,
  });
  cleanups.push(() => c.stop());
  const deadline = performance.now() + 10_000;
  while (connections < 2 && performance.now() < deadline) await Bun.sleep(20);
  expect(connections).toBeGreaterThanOrEqual(2);
  // With pings every 50 ms the connection is kept: no new connection for well over the silence limit.
  pinging = true;
  await Bun.sleep(100);
  const before = connections;
  await Bun.sleep(2500);
  expect(connections).toBe(before);
}, 20_000);

test("a relay that stops answering altogether (no close handshake either) is dropped when the silence is up, not when TCP gives up", async () => {
  // A stand-in relay on a raw socket: 426 to the preflight, the upgrade and `ready`, then nothing,
  // not even the answer to a close frame (a stopped process, a dead network).
  let connections = 0;
  const sockets = new Set<Socket>();
  const fake = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once("data", (chunk) => {
      const head = chunk.toString("latin1");
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
      if (!key) return void socket.end("HTTP/1.1 426 Upgrade Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      connections++;
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      const ready = Buffer.from(JSON.stringify({ type: "ready", target: "alice", protocol: 1 }));
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
      socket.write(Buffer.concat([Buffer.from([0x81, ready.length]), ready]));
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    fake.close();
  });
  const routes = parseForwardRoutes(["http://127.0.0.1:9/x"]);
  if (!routes.ok) throw new Error(routes.error);
  const c = startListenClient({
    relayUrl: `http://127.0.0.1:${(fake.address() as import("node:net").AddressInfo).port}`, target: "alice", token: TOKEN, routes: routes.value,
    timeoutMs: 500, backoff: { baseMs: 20, maxMs: 50 }, log: silentLogger, silenceMs: 1000,
  });
  cleanups.push(() => c.stop());
  const deadline = performance.now() + 6_000;
  while (connections < 2 && performance.now() < deadline) await Bun.sleep(20);
  expect(connections).toBeGreaterThanOrEqual(2);
}, 20_000);

test("a delivery re-sent on a new connection while its post on the old one runs is posted once, and acked on the new one", async () => {
  // A stand-in relay: the first connection gets the delivery and is dropped 100 ms later (a relay
  // restart, an ack timeout); the second gets the same delivery again, as the relay re-sends it.
  let connections = 0;
  const acks: { connection: number; ack: Record<string, unknown> }[] = [];
  const delivery = { type: "delivery", deliveryId: "dlv_1", webhookId: "evt_1", attempt: 1, eventType: "a", source: "src", headers: [["content-type", "application/json"]], bodyBase64: Buffer.from("{}").toString("base64") };
  const fake = Bun.serve<{ n: number }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, server) {
      if (req.headers.get("upgrade") === "websocket" && server.upgrade(req, { data: { n: connections + 1 } })) return undefined;
      return new Response("upgrade required", { status: 426 });
    },
    websocket: {
      open(ws) {
        connections++;
        ws.send(JSON.stringify({ type: "ready", target: "alice", protocol: 1 }));
        ws.send(JSON.stringify(delivery));
        if (ws.data.n === 1) setTimeout(() => ws.close(1001, "relay restarting"), 100);
      },
      message(ws, text) {
        acks.push({ connection: ws.data.n, ack: JSON.parse(String(text)) });
      },
    },
  });
  cleanups.push(() => fake.stop(true));
  // The local app takes most of a second to answer.
  let posts = 0;
  const app = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch() {
      posts++;
      await Bun.sleep(800);
      return new Response("ok");
    },
  });
  cleanups.push(() => app.stop(true));
  const c = client(`http://127.0.0.1:${fake.port}`, [`http://127.0.0.1:${app.port}/hook`]);
  await until("the ack on the second connection", () => acks.find((a) => a.connection === 2));
  expect(posts).toBe(1);
  expect(acks).toEqual([{ connection: 2, ack: expect.objectContaining({ deliveryId: "dlv_1", ok: true, status: 200 }) }]);
  c.stop();
});
