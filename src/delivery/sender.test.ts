import { afterEach, expect, test } from "bun:test";
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
