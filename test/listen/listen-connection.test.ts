/**
 * A listen target says whether a client is connected, since when and from
 * where: GET /api/targets → listen {connected, since, remoteAddr}, and the
 * targets page, where a listen target with deliveries waiting and no client
 * is never shown as healthy. A real WebSocket client on 127.0.0.1.
 */
import { afterEach, expect, test } from "bun:test";
import { startTestRelay, type TestRelay } from "../support/relay.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "tok-listen-0123456789";
const ADMIN = "admin-token-0123456789abcdef";
const config = `
[admin]
token = "${ADMIN}"
[[sources]]
name = "src"
verify = { scheme = "none" }
[[targets]]
name = "laptop"
kind = "listen"
token = "${TOKEN}"
[[routes]]
from = "src"
to = ["laptop"]
`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => {});
});

interface ListenJson {
  state: string;
  listen: { connected: boolean; since: string | null; remoteAddr: string | null } | null;
}

async function start(): Promise<{ relay: TestRelay; target: () => Promise<ListenJson>; page: () => Promise<string>; connect: () => WebSocket }> {
  const relay = await startTestRelay(config, { engine: { pollMs: 50 } });
  relay.app.publicApp.listen({ hostname: "127.0.0.1", port: 0 });
  cleanups.push(() => relay.close(), () => relay.app.publicApp.stop(true), () => relay.app.listen.stop());
  const admin = (path: string) => relay.app.adminApp.handle(new Request(`http://127.0.0.1${path}`, { headers: { authorization: `Bearer ${ADMIN}` } }));
  return {
    relay,
    target: async () => ((await (await admin("/api/targets")).json()) as { targets: ListenJson[] }).targets[0]!,
    page: async () => (await admin("/targets")).text(),
    connect() {
      const ws = new WebSocket(`ws://127.0.0.1:${relay.app.publicApp.server!.port}/listen/laptop`, { headers: { authorization: `Bearer ${TOKEN}` } } as unknown as string[]);
      cleanups.push(() => ws.close());
      return ws;
    },
  };
}

test("a listen target reports its client: not connected, then connected since when and from where, then gone since when", async () => {
  const { target, connect } = await start();
  expect((await target()).listen).toEqual({ connected: false, since: null, remoteAddr: null });
  const before = Date.now();
  const ws = connect();
  const on = await waitFor("connected", async () => ((await target()).listen?.connected ? (await target()).listen : null));
  expect(on.remoteAddr).toBe("127.0.0.1");
  expect(Date.parse(on.since!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  expect(Date.parse(on.since!)).toBeLessThanOrEqual(Date.now());
  const closedAt = Date.now();
  ws.close();
  const off = await waitFor("disconnected", async () => ((await target()).listen?.connected === false ? (await target()).listen : null));
  // Since when there has been no client, and where the last one was.
  expect(Date.parse(off.since!)).toBeGreaterThanOrEqual(Math.floor(closedAt / 1000) * 1000);
  expect(off.remoteAddr).toBe("127.0.0.1");
});

test("with deliveries waiting and no client connected, a listen target is not healthy and the targets page says so", async () => {
  const { relay, target, page, connect } = await start();
  expect((await target()).state).toBe("healthy");
  expect(await page()).toContain("no client connected");
  expect((await relay.post("src", '{"n":1}')).status).toBe(200);
  expect((await target()).state).toBe("no-client");
  expect(await page()).toContain("badge-no-client");
  connect();
  await waitFor("client connected", async () => (await target()).listen?.connected);
  expect(await page()).toContain("client connected");
  expect(await page()).not.toContain("no client connected");
});
