import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { makeMtlsCerts } from "../../test/support/mtls-certs.ts";
import { createHttpExchanger, errorText, TurnWrites, type ExchangeRequest, type HttpExchanger } from "./http-exchange.ts";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function exchanger(): HttpExchanger {
  const ex = createHttpExchanger();
  closers.push(() => ex.close());
  return ex;
}

const request = (port: number, over: Partial<ExchangeRequest> = {}): ExchangeRequest => ({
  address: "127.0.0.1",
  port,
  tls: null,
  poolKey: `http 127.0.0.1:${port}`,
  head: `POST /hooks HTTP/1.1\r\nhost: target.test\r\ncontent-length: 2\r\n`,
  body: new TextEncoder().encode("hi"),
  connectTimeoutMs: 500,
  deadline: performance.now() + 2000,
  timeoutMs: 2000,
  replyBytes: 4096,
  ...over,
});

/**
 * A TCP server that answers each request with `reply(n)` (n counts requests
 * across connections), written as given; records every request's bytes and
 * how many connections were opened.
 */
async function rawServer(reply: (n: number, socket: Socket) => string | null) {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createTcpServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        requests.push(buffered.slice(0, end + 4 + length));
        buffered = buffered.slice(end + 4 + length);
        const text = reply(requests.length, socket);
        if (text !== null) socket.write(Buffer.from(text, "latin1"));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, requests, connections: () => connections, sockets };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("a chunked reply with a trailer is read whole, and its connection carries the next request", async () => {
  const server = await rawServer(() => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nx-trailer: t\r\n\r\n");
  const ex = exchanger();
  for (let i = 0; i < 3; i++) {
    const outcome = await ex.exchange(request(server.port));
    expect(outcome.kind).toBe("reply");
    if (outcome.kind === "reply") expect([outcome.reply.status, text(outcome.reply.body)]).toEqual([200, "abcdefg"]);
  }
  expect(server.connections()).toBe(1);
  expect(server.requests).toHaveLength(3);
});

test("a reply split into single bytes, after an interim 100 Continue, is parsed the same", async () => {
  const reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy";
  const server = await rawServer((_, socket) => {
    void (async () => {
      for (const ch of reply) {
        socket.write(ch);
        await Bun.sleep(0);
      }
    })();
    return null;
  });
  const outcome = await exchanger().exchange(request(server.port));
  expect(outcome.kind).toBe("reply");
  if (outcome.kind !== "reply") return;
  expect(outcome.reply.status).toBe(503);
  expect(outcome.reply.headers.get("retry-after")).toBe("7");
  expect(text(outcome.reply.body)).toBe("busy");
});

test("a reply with `connection: close` or framed by the close is read to the end and its connection never reused", async () => {
  const server = await rawServer((n, socket) => {
    if (n === 1) return "HTTP/1.1 201 Created\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok";
    socket.end("HTTP/1.1 200 OK\r\n\r\nuntil the end");
    return null;
  });
  const ex = exchanger();
  const first = await ex.exchange(request(server.port));
  const second = await ex.exchange(request(server.port));
  expect(first.kind === "reply" && [first.reply.status, text(first.reply.body)]).toEqual([201, "ok"]);
  expect(second.kind === "reply" && [second.reply.status, text(second.reply.body)]).toEqual([200, "until the end"]);
  expect(server.connections()).toBe(2);
});

test("a pooled connection the server closed while idle is replaced: the request is made once, on a new connection", async () => {
  // Answers without saying so, then drops the connection a moment later (a short keep-alive timeout).
  const server = await rawServer((_, socket) => {
    setTimeout(() => socket.destroy(), 20);
    return "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
  });
  const ex = exchanger();
  expect((await ex.exchange(request(server.port))).kind).toBe("reply");
  await Bun.sleep(60);
  const again = await ex.exchange(request(server.port));
  expect(again.kind === "reply" && again.reply.status).toBe(200);
  expect(server.requests).toHaveLength(2);
  expect(server.connections()).toBe(2);
});

test("node:http with a short keep-alive timeout: every request answered, none made twice", async () => {
  let seen = 0;
  const server = createHttpServer((req, res) => {
    seen++;
    req.resume();
    req.on("end", () => res.end("node"));
  });
  server.keepAliveTimeout = 30;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const ex = exchanger();
  for (let i = 0; i < 6; i++) {
    const outcome = await ex.exchange(request(port));
    expect(outcome.kind === "reply" && text(outcome.reply.body)).toBe("node");
    await Bun.sleep(i % 2 === 0 ? 5 : 45);
  }
  expect(seen).toBe(6);
});

test("a body of several megabytes arrives whole (written as the socket drains)", async () => {
  const body = new Uint8Array(6 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
  let digest = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      digest = createHash("sha256").update(new Uint8Array(await req.arrayBuffer())).digest("hex");
      return new Response("got it");
    },
  });
  closers.push(() => server.stop(true));
  const outcome = await exchanger().exchange(request(server.port!, { head: `POST / HTTP/1.1\r\nhost: t\r\ncontent-length: ${body.length}\r\n`, body }));
  expect(outcome.kind === "reply" && text(outcome.reply.body)).toBe("got it");
  expect(digest).toBe(createHash("sha256").update(body).digest("hex"));
});

test("a body longer than the excerpt is cut at replyBytes and its connection closed, the rest never read", async () => {
  // A megabyte announced, 10 KB sent: the reply is not over, but the excerpt is.
  const server = await rawServer(() => `HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n${"x".repeat(10000)}`);
  const ex = exchanger();
  const outcome = await ex.exchange(request(server.port, { replyBytes: 100 }));
  expect(outcome.kind === "reply" && outcome.reply.body.length).toBe(100);
  const second = await ex.exchange(request(server.port));
  expect(second.kind === "reply" && second.reply.body.length).toBe(4096);
  // A reply read to its end keeps its connection: the first was closed, the second is pooled.
  expect(server.connections()).toBe(2);
});

test("garbage instead of a reply, and a Content-Length that is not a number, fail the exchange", async () => {
  const garbage = await rawServer(() => "SSH-2.0-OpenSSH_9.6\r\n\r\n");
  const outcome = await exchanger().exchange(request(garbage.port));
  expect(outcome).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply is not HTTP/1.x" } });
  const badLength = await rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n");
  expect(await exchanger().exchange(request(badLength.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply's Content-Length is not a number" } });
});

test("a reply whose lines end in bare LF is read as one with CRLF, its chunked body too", async () => {
  const server = await rawServer((n) =>
    n === 1 ? "HTTP/1.1 200 OK\ncontent-length: 2\n\nok" : "HTTP/1.1 201 Created\ntransfer-encoding: chunked\n\n3\nabc\n0\n\n",
  );
  const ex = exchanger();
  const first = await ex.exchange(request(server.port));
  expect(first.kind === "reply" && [first.reply.status, text(first.reply.body)]).toEqual([200, "ok"]);
  const second = await ex.exchange(request(server.port));
  expect(second.kind === "reply" && [second.reply.status, text(second.reply.body)]).toEqual([201, "abc"]);
  expect(server.connections()).toBe(1);
});

test("a Content-Length repeated with one value is that value; two values conflict, and say which", async () => {
  const same = await rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nContent-Length: 2\r\n\r\nok");
  const outcome = await exchanger().exchange(request(same.port));
  expect(outcome.kind === "reply" && [outcome.reply.status, text(outcome.reply.body)]).toEqual([200, "ok"]);
  const two = await rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\nok");
  expect(await exchanger().exchange(request(two.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply's Content-Length values conflict (2, 5)" } });
});

test("a status of more than three digits is not HTTP; a 101 ends its connection's use", async () => {
  const long = await rawServer(() => "HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok");
  expect(await exchanger().exchange(request(long.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply is not HTTP/1.x" } });
  const bare = await rawServer(() => "HTTP/1.1 204\r\n\r\n");
  expect((await exchanger().exchange(request(bare.port))).kind).toBe("reply");
  // A CRLF line, then a bare LF ending the head.
  const mixed = await rawServer(() => "HTTP/1.1 204\r\n\n");
  expect((await exchanger().exchange(request(mixed.port))).kind).toBe("reply");
  const upgrade = await rawServer(() => "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n");
  const ex = exchanger();
  for (let i = 0; i < 2; i++) {
    const outcome = await ex.exchange(request(upgrade.port));
    expect(outcome.kind === "reply" && outcome.reply.status).toBe(101);
  }
  expect(upgrade.connections()).toBe(2);
});

test("a head past 64 KB is refused whether it came in one write or many", async () => {
  const filler = `x-filler: ${"f".repeat(80 * 1024)}\r\n`;
  const whole = await rawServer(() => `HTTP/1.1 200 OK\r\n${filler}content-length: 0\r\n\r\n`);
  expect(await exchanger().exchange(request(whole.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply's headers are too large" } });
  const pieces = await rawServer((_, socket) => {
    const head = `HTTP/1.1 200 OK\r\n${filler}content-length: 0\r\n\r\n`;
    for (let at = 0; at < head.length; at += 8192) setTimeout(() => socket.write(Buffer.from(head.slice(at, at + 8192), "latin1")), at / 8192);
    return null;
  });
  expect(await exchanger().exchange(request(pieces.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the reply's headers are too large" } });
});

test("once the status is in, a malformed chunked body ends the reply there (the reply stands, the connection is closed)", async () => {
  const server = await rawServer(() => "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n5x\r\nhello\r\n0\r\n\r\n");
  const ex = exchanger();
  const outcome = await ex.exchange(request(server.port));
  expect(outcome.kind === "reply" && [outcome.reply.status, text(outcome.reply.body)]).toEqual([200, "ok"]);
  await ex.exchange(request(server.port));
  expect(server.connections()).toBe(2);
});

test("a connection closed without a reply byte says so", async () => {
  const server = await rawServer((_, socket) => {
    socket.end();
    return null;
  });
  expect(await exchanger().exchange(request(server.port))).toEqual({ kind: "failed", failure: { kind: "network", message: "the target closed the connection without replying" } });
});

test("a closed port is unconnected (nothing sent); a silent server times out at the deadline", async () => {
  const closed = await rawServer(() => null);
  closers.splice(0).forEach((c) => c());
  await Bun.sleep(10);
  const refused = await exchanger().exchange(request(closed.port));
  expect(refused).toEqual({ kind: "unconnected", failure: { kind: "network", message: "connection refused by 127.0.0.1" } });

  const silent = await rawServer(() => null);
  const started = performance.now();
  const outcome = await exchanger().exchange(request(silent.port, { deadline: performance.now() + 200, timeoutMs: 200 }));
  expect(outcome).toEqual({ kind: "failed", failure: { kind: "timeout", phase: "total", afterMs: 200 } });
  expect(performance.now() - started).toBeGreaterThanOrEqual(195);
  expect(silent.requests).toHaveLength(1);
});

test("a body that stops coming after its head gets a second of its own: the reply ends with what came, its connection closed", async () => {
  const stalled = await rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
  const started = performance.now();
  const outcome = await exchanger().exchange(request(stalled.port, { deadline: performance.now() + 5000, timeoutMs: 5000 }));
  const took = performance.now() - started;
  expect(outcome.kind).toBe("reply");
  if (outcome.kind !== "reply") return;
  expect(outcome.reply.status).toBe(200);
  expect(text(outcome.reply.body)).toBe("abc");
  // The body's own second, not the 5 s total timeout.
  expect(took).toBeGreaterThanOrEqual(950);
  expect(took).toBeLessThan(3000);
  // A reply cut short leaves the connection in no known state: the next request opens another.
  // The server sees the close some turns later (bounded at 1 s).
  for (let i = 0; i < 100 && stalled.sockets.size > 0; i++) await Bun.sleep(10);
  expect(stalled.sockets.size).toBe(0);
});

test("https: a server that never finishes the handshake is a connect timeout, nothing sent", async () => {
  const silent = await rawServer(() => null);
  const started = performance.now();
  const outcome = await exchanger().exchange(request(silent.port, { tls: { serverName: "localhost" }, connectTimeoutMs: 150 }));
  expect(outcome).toEqual({ kind: "unconnected", failure: { kind: "timeout", phase: "connect", afterMs: 150 } });
  expect(performance.now() - started).toBeLessThan(1000);
  expect(silent.requests).toHaveLength(0);
});

test("https: the certificate is checked against the server name, not the address", async () => {
  const certs = makeMtlsCerts();
  let served = 0;
  const server = createTlsServer({ key: certs.serverKey, cert: certs.serverCert }, (socket) => {
    socket.on("data", () => {
      served++;
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const ex = exchanger();
  const good = await ex.exchange(request(port, { tls: { serverName: "localhost", ca: certs.ca }, poolKey: "a" }));
  expect(good.kind === "reply" && good.reply.status).toBe(200);
  const wrongName = await ex.exchange(request(port, { tls: { serverName: "evil.example", ca: certs.ca }, poolKey: "b" }));
  expect(wrongName.kind).toBe("failed");
  expect(wrongName.kind === "failed" && wrongName.failure.kind === "network" && wrongName.failure.message).toContain("TLS");
  const untrusted = await ex.exchange(request(port, { tls: { serverName: "localhost" }, poolKey: "c" }));
  expect(untrusted.kind).toBe("failed");
  expect(served).toBe(1);
});

test("while replies are coming in, started requests are written together at the turn's end; otherwise as soon as their task is done", async () => {
  let now = 1000;
  const writes = new TurnWrites(() => now);
  const order: string[] = [];
  const conn = (name: string) => ({ flush: () => order.push(name) });

  // No reply lately (a fresh event's delivery on a quiet relay): written once the task's microtasks ran.
  writes.add(conn("fresh 1"));
  writes.add(conn("fresh 2"));
  order.push("task goes on");
  await Promise.resolve();
  order.push("a later microtask");
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual(["task goes on", "fresh 1", "fresh 2", "a later microtask"]);

  // A reply just came in: what starts waits for the turn's end, microtasks included.
  order.length = 0;
  writes.replyArrived();
  now += 0.5;
  writes.add(conn("after reply 1"));
  await Promise.resolve();
  writes.add(conn("after reply 2"));
  order.push("microtasks done");
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual(["microtasks done", "after reply 1", "after reply 2"]);

  // A millisecond without replies: quiet again.
  order.length = 0;
  now += 1;
  writes.add(conn("quiet again"));
  await Promise.resolve();
  order.push("a later microtask");
  expect(order).toEqual(["quiet again", "a later microtask"]);
});

test("a reply that arrived while the process was stalled past the deadline (stopped, paused) is read, not taken for a timeout", async () => {
  // The target runs in a process of its own (this one stalls below), and leaves a mark once it has answered.
  const mark = join(mkdtempSync(join(tmpdir(), "hookrelay-stall-")), "answered");
  const script = `const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => { require("node:fs").writeFileSync(${JSON.stringify(mark)}, "1"); return new Response("ok"); } }); console.log(s.port);`;
  const target = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe" });
  closers.push(() => target.kill());
  const port = Number(new TextDecoder().decode((await target.stdout.getReader().read()).value).trim());
  const started = performance.now();
  const outcome = exchanger().exchange(request(port, { deadline: started + 100, timeoutMs: 100 }));
  await Bun.sleep(5); // the request leaves at the turn's end
  // Stalled (as under SIGSTOP or a paused VM) until past the deadline and well after the answer:
  // on waking, the timer and the reply are both due.
  while (performance.now() - started < 200 || !existsSync(mark)) if (performance.now() - started > 10_000) break;
  const answered = performance.now();
  while (performance.now() - answered < 50) {}
  const got = await outcome;
  expect(got.kind).toBe("reply");
  if (got.kind === "reply") expect(got.reply.status).toBe(200);
});

test("a socket error reads its code once, whether or not its message starts with it", () => {
  expect(errorText(Object.assign(new Error("ECONNRESET: connection reset by peer, read"), { code: "ECONNRESET" }))).toBe("ECONNRESET: connection reset by peer, read");
  expect(errorText(Object.assign(new Error("broken pipe"), { code: "EPIPE" }))).toBe("EPIPE: broken pipe");
  expect(errorText("plain")).toBe("plain");
});
