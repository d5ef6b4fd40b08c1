import { expect, test } from "bun:test";
import { targetConfig } from "../../test/delivery/fixtures.ts";
import type { TargetConfig } from "../config/types.ts";
import { silentLogger } from "../log/logger.ts";
import { createListenHub } from "./listen-hub.ts";

const listenTarget = (name: string, token: string): TargetConfig => ({ ...targetConfig(name, ""), kind: "listen", token });

function socket() {
  const closed: { code: number; reason: string }[] = [];
  return { closed, send: () => {}, close: (code: number, reason: string) => void closed.push({ code, reason }) };
}

test("a reload keeps clients whose target and token are unchanged, and disconnects the others to reconnect (1012)", () => {
  const clock = { now: 1_000 };
  const hub = createListenHub({ targets: [listenTarget("kept", "token-kept-0123456789"), listenTarget("rotated", "old-token-0123456789"), listenTarget("gone", "token-gone-0123456789")], log: silentLogger, pingMs: 60_000, nowMs: () => clock.now });
  const [kept, rotated, gone] = [socket(), socket(), socket()];
  hub.open("rotated", rotated, "127.0.0.1");
  const keptSession = hub.open("kept", kept, "127.0.0.1")!;
  hub.open("gone", gone);
  clock.now = 2_000;
  hub.setTargets([{ ...listenTarget("kept", "token-kept-0123456789"), timeoutMs: 42_000 }, listenTarget("rotated", "new-token-0123456789")]);
  expect(kept.closed).toEqual([]);
  expect(rotated.closed).toEqual([{ code: 1012, reason: "target reconfigured; reconnect" }]);
  expect(gone.closed).toEqual([{ code: 1012, reason: "target reconfigured; reconnect" }]);
  expect(hub.connected()).toEqual(["kept"]);
  expect(hub.target("gone")).toBeNull();
  expect(hub.target("rotated")?.token).toBe("new-token-0123456789");
  // What the admin side shows: none connected since the reload, for the ones it closed.
  expect(hub.status("rotated")).toEqual({ connected: false, sinceMs: 2_000, remoteAddr: "127.0.0.1" });
  expect(hub.status("kept")).toEqual({ connected: true, sinceMs: 1_000, remoteAddr: "127.0.0.1" });
  // The kept client waits for acks by the target's new timeout.
  expect(keptSession.target.timeoutMs).toBe(42_000);
  void hub.stop();
});
