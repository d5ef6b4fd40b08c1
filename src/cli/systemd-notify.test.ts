import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { notifySystemd } from "./systemd-notify.ts";
import { listenForNotify as listen } from "../../test/support/notify-socket.ts";

const dir = mkdtempSync(join(tmpdir(), "hookrelay-notify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test.skipIf(process.platform !== "linux")("READY=1 reaches the socket NOTIFY_SOCKET names, a path or an abstract one; without it nothing is sent", () => {
  for (const name of [join(dir, "notify.sock"), `@hookrelay-test-${process.pid}`]) {
    const socket = listen(name);
    try {
      expect(notifySystemd("READY=1", { NOTIFY_SOCKET: name })).toBe(true);
      expect(socket.recv()).toBe("READY=1");
      expect(socket.recv()).toBeNull();
    } finally {
      socket.close();
    }
  }
  expect(notifySystemd("READY=1", {})).toBe(false);
  // A socket nobody listens on: said, not ignored (systemd would stop a unit never ready).
  expect(() => notifySystemd("READY=1", { NOTIFY_SOCKET: join(dir, "nobody.sock") })).toThrow("cannot tell systemd READY=1");
});
