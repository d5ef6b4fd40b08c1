import { afterEach, expect, test } from "bun:test";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { TEST_TLS_CERT, TEST_TLS_KEY } from "../../test/support/self-signed-cert.ts";
import { createSender, EXCERPT_BYTES } from "./sender.ts";

const servers: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});

const request = (url: string, over: Partial<Parameters<ReturnType<typeof createSender>>[0]> = {}) => ({
  url,
  body: new TextEncoder().encode("hi"),
  headers: [["content-type", "text/plain"]] as [string, string][],
  timeoutMs: 2000,
  connectTimeoutMs: 500,
  ...over,
});

test("a target streaming an endless body is cut off at the excerpt size", async () => {
  const chunk = new Uint8Array(1024).fill(120);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(chunk), // never ends
        }),
      ),
  });
  servers.push(server);
  const report = await createSender()(request(`http://127.0.0.1:${server.port}/`));
  expect(report.result).toMatchObject({ kind: "response", status: 200 });
  expect(report.excerpt).toHaveLength(EXCERPT_BYTES);
  expect(report.durationMs).toBeLessThan(1000);
});

test("a name resolving to a metadata address is refused before any request", async () => {
  let asked = false;
  const send = createSender({
    resolve: async () => {
      asked = true;
      return ["169.254.169.254"];
    },
  });
  const report = await send(request("http://innocent.example:8080/"));
  expect(asked).toBe(true);
  expect(report.result).toEqual({ kind: "forbidden-address", address: "169.254.169.254" });
});

test("an IPv4-mapped metadata literal is refused without resolving", async () => {
  const report = await createSender({ resolve: async () => [] })(request("http://[::ffff:169.254.169.254]/"));
  expect(report.result.kind).toBe("forbidden-address");
});

test("a refused connection is a network error, reported quickly", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port;
  server.stop(true);
  const report = await createSender()(request(`http://127.0.0.1:${port}/`));
  expect(report.result.kind).toBe("network");
  expect(report.durationMs).toBeLessThan(1000);
});

test("a target that never answers times out at the total timeout", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: () => new Promise<Response>(() => {}) });
  servers.push(server);
  const report = await createSender()(request(`http://127.0.0.1:${server.port}/`, { timeoutMs: 300 }));
  expect(report.result).toEqual({ kind: "timeout", phase: "total", afterMs: 300 });
  expect(report.durationMs).toBeGreaterThanOrEqual(290);
  expect(report.durationMs).toBeLessThan(1000);
});

test("redirects are returned, not followed", async () => {
  const paths: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      paths.push(new URL(req.url).pathname);
      return new Response(null, { status: 307, headers: { location: "/next" } });
    },
  });
  servers.push(server);
  const report = await createSender()(request(`http://127.0.0.1:${server.port}/first`));
  expect(report.result).toEqual({ kind: "response", status: 307, retryAfter: null, location: "/next" });
  expect(paths).toEqual(["/first"]);
});

test("a name is requested at the address the guard checked, with its Host kept, never looked up again", async () => {
  const seen: { host: string | null; path: string }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      seen.push({ host: req.headers.get("host"), path: new URL(req.url).pathname });
      return new Response("ok");
    },
  });
  servers.push(server);
  // The system resolver does not know this name: only the checked answer can reach the server.
  const send = createSender({ resolve: async () => ["127.0.0.1"] });
  const report = await send(request(`http://checked-only.invalid:${server.port}/hooks?x=1`));
  expect(report.result).toMatchObject({ kind: "response", status: 200 });
  expect(seen).toEqual([{ host: `checked-only.invalid:${server.port}`, path: "/hooks" }]);
});

test("an IPv6 answer is requested in brackets", async () => {
  const server = Bun.serve({ hostname: "::1", port: 0, fetch: (req) => new Response(req.headers.get("host")) });
  servers.push(server);
  const report = await createSender({ resolve: async () => ["::1"] })(request(`http://v6-only.invalid:${server.port}/`));
  expect(report.result).toMatchObject({ kind: "response", status: 200 });
  expect(report.excerpt).toBe(`v6-only.invalid:${server.port}`);
});

test("an https name is requested at the checked address with the name as TLS server name (SNI) and Host", async () => {
  // node:tls shows the SNI the client sent; the reply is written by hand.
  const seen: { sni: string | false | null; head: string }[] = [];
  const server = createTlsServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (socket) => {
    socket.once("data", (chunk: Buffer) => {
      seen.push({ sni: socket.servername, head: chunk.toString("latin1").split("\r\n\r\n")[0]! });
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ stop: () => server.close() });
  const port = (server.address() as AddressInfo).port;
  // The certificate is self-signed: verification is off for this test only (it is read per request).
  const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  try {
    const report = await createSender({ resolve: async () => ["127.0.0.1"] })(request(`https://hook.example.test:${port}/hooks`));
    expect(report.result).toMatchObject({ kind: "response", status: 200 });
  } finally {
    if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
  }
  expect(seen).toHaveLength(1);
  expect(seen[0]!.sni).toBe("hook.example.test");
  expect(seen[0]!.head.toLowerCase()).toContain(`\r\nhost: hook.example.test:${port}`);
});

test("a name with several answers falls over to the next address when one cannot be connected to", async () => {
  const hits: string[] = [];
  // Listening on 127.0.0.1 only: the first answer (::1, same port) refuses the connection.
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (hits.push(req.headers.get("host")!), new Response("ok")) });
  servers.push(server);
  const send = createSender({ resolve: async () => ["::1", "127.0.0.1"] });
  const url = `http://two-answers.invalid:${server.port}/`;
  for (let i = 0; i < 2; i++) {
    const report = await send(request(url));
    expect(report.result).toMatchObject({ kind: "response", status: 200 });
    expect(report.durationMs).toBeLessThan(1000);
  }
  // Each attempt reached the target once: nothing was sent to the refusing address.
  expect(hits).toEqual([`two-answers.invalid:${server.port}`, `two-answers.invalid:${server.port}`]);
});

test("when every answer refuses, the attempt is one network error naming every address", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port;
  server.stop(true);
  const report = await createSender({ resolve: async () => ["::1", "127.0.0.1"] })(request(`http://nobody-home.invalid:${port}/`));
  expect(report.result).toEqual({ kind: "network", message: "connection refused by ::1; connection refused by 127.0.0.1" });
  expect(report.durationMs).toBeLessThan(1000);
});

test("an address that worked and then refuses hands the attempt to the next one, sending nothing twice", async () => {
  const hitsB: number[] = [];
  const b = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (hitsB.push(1), new Response("b")) });
  servers.push(b);
  const hitsA: number[] = [];
  const a = Bun.serve({ hostname: "::1", port: b.port, fetch: () => (hitsA.push(1), new Response("a")) });
  const send = createSender({ resolve: async () => ["::1", "127.0.0.1"] });
  const url = `http://fails-over.invalid:${b.port}/`;
  expect((await send(request(url))).excerpt).toBe("a");
  a.stop(true);
  // The pooled connection to ::1 was closed with the server: a new one is refused (nothing sent), then 127.0.0.1 answers.
  const report = await send(request(url));
  expect(report.result).toMatchObject({ kind: "response", status: 200 });
  expect(report.excerpt).toBe("b");
  expect([hitsA.length, hitsB.length]).toEqual([1, 1]);
});

test("a name's answer is used again for a while, then asked anew; a failed lookup is asked again at once", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
  servers.push(server);
  let asked = 0;
  // Long enough for three exchanges on a slow machine.
  const send = createSender({ nameReuseMs: 1000, resolve: async () => (asked++, ["127.0.0.1"]) });
  const url = `http://reused.example.test:${server.port}/`;
  for (let i = 0; i < 3; i++) expect((await send(request(url))).result).toMatchObject({ kind: "response", status: 200 });
  expect(asked).toBe(1);
  await Bun.sleep(1050);
  expect((await send(request(url))).result).toMatchObject({ kind: "response", status: 200 });
  expect(asked).toBe(2);

  let failures = 0;
  const failing = createSender({ resolve: async () => Promise.reject((failures++, new Error("SERVFAIL"))) });
  for (let i = 0; i < 2; i++) expect((await failing(request(url))).result.kind).toBe("network");
  expect(failures).toBe(2);
});
