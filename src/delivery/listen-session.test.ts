import { afterEach, expect, test } from "bun:test";
import { silentLogger } from "../log/logger.ts";
import { startTestRelay, type TestRelay } from "../../test/support/relay.ts";
import { ListenSession } from "./listen-session.ts";

let relay: TestRelay | null = null;
afterEach(async () => {
  await relay?.close();
  relay = null;
});

test("a connected session sends ready, then a ping every heartbeat period until it ends", async () => {
  relay = await startTestRelay(`
[[targets]]
name = "alice"
kind = "listen"
token = "tok-alice-0123456789"
`);
  const sent: string[] = [];
  const socket = { send: (t: string) => void sent.push(t), close: () => {} };
  const session = new ListenSession({ log: silentLogger, ackMarginMs: 1000, pingMs: 40 }, relay.config.targets[0]!, socket);
  // Three periods take ~120 ms; an interval does not make up ticks a stalled event loop missed, so bounded at 2 s.
  const pings = () => sent.filter((t) => (JSON.parse(t) as { type: string }).type === "ping").length;
  for (let i = 0; i < 100 && pings() < 3; i++) await Bun.sleep(20);
  session.end();
  const types = sent.map((t) => (JSON.parse(t) as { type: string }).type);
  expect(types[0]).toBe("ready");
  expect(types.filter((t) => t === "ping").length).toBeGreaterThanOrEqual(3);
  const after = sent.length;
  await Bun.sleep(120);
  expect(sent.length).toBe(after);
});
