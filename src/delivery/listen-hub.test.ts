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
  const hub = createListenHub({ targets: [listenTarget("kept", "token-kept-0123456789"), listenTarget("rotated", "old-token-0123456789"), listenTarget("gone", "token-gone-0123456789")], log: silentLogger, pingMs: 60_000 });
  const [kept, rotated, gone] = [socket(), socket(), socket()];
  hub.open("kept", kept);
  hub.open("rotated", rotated);
  hub.open("gone", gone);
  hub.setTargets([listenTarget("kept", "token-kept-0123456789"), listenTarget("rotated", "new-token-0123456789")]);
  expect(kept.closed).toEqual([]);
  expect(rotated.closed).toEqual([{ code: 1012, reason: "target reconfigured; reconnect" }]);
  expect(gone.closed).toEqual([{ code: 1012, reason: "target reconfigured; reconnect" }]);
  expect(hub.connected()).toEqual(["kept"]);
  expect(hub.target("gone")).toBeNull();
  expect(hub.target("rotated")?.token).toBe("new-token-0123456789");
  void hub.stop();
});
