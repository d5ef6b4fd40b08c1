/**
 * The shipped unit passes `systemd-analyze verify` (Debian's systemd package)
 * without a single warning, the production config example loads with its
 * secrets read from a systemd credentials directory, and the binary tells
 * systemd when it is ready (Type=notify) and when it stops.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.ts";
import { ensureBinary, startBinary } from "../support/binary.ts";
import { listenForNotify } from "../support/notify-socket.ts";
import { waitFor } from "../support/wait.ts";
import { tempDir } from "../support/relay.ts";

const DEPLOY = join(import.meta.dir, "../../deploy");
const tmp = tempDir("hookrelay-deploy-");
afterAll(() => tmp.remove());

test.skipIf(process.platform !== "linux")("systemd-analyze verify passes on deploy/hookrelay.service with no warning", async () => {
  const analyze = Bun.which("systemd-analyze");
  if (!analyze) throw new Error("systemd-analyze is missing: apt-get install -y systemd (.ci/run does this)");
  const unit = readFileSync(join(DEPLOY, "hookrelay.service"), "utf8");
  expect(unit).toContain("ExecStart=/usr/local/bin/hookrelay serve --config /etc/hookrelay/hookrelay.toml\n");
  // systemctl reload: SIGHUP re-reads the config (docs/OPERATIONS.md).
  expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID\n");
  // verify wants the ExecStart binary to exist: point it at the built one, nothing else changes.
  const copy = join(tmp.dir, "hookrelay.service");
  writeFileSync(copy, unit.replace("ExecStart=/usr/local/bin/hookrelay ", `ExecStart=${await ensureBinary()} `));
  const proc = Bun.spawn([analyze, "verify", copy], { stdout: "pipe", stderr: "pipe", env: { ...process.env, SYSTEMD_LOG_COLOR: "0" } });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const aboutUnit = (out + err).split("\n").filter((l) => l.includes("hookrelay"));
  expect(aboutUnit).toEqual([]);
  expect(code).toBe(0);
});

test("the production config loads with file:%d/… secrets from $CREDENTIALS_DIRECTORY", () => {
  const creds = join(tmp.dir, "credentials");
  mkdirSync(creds);
  writeFileSync(join(creds, "admin-token"), "admin-token-value\n");
  writeFileSync(join(creds, "ploints-secret"), "ploints-secret-value\n");
  writeFileSync(join(creds, "orders-whsec"), `whsec_${Buffer.alloc(32, 7).toString("base64")}\n`);
  const loaded = loadConfig(readFileSync(join(DEPLOY, "hookrelay.prod.toml"), "utf8"), { env: { CREDENTIALS_DIRECTORY: creds }, baseDir: "/etc/hookrelay" });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  expect(loaded.config.admin.token).toBe("admin-token-value");
  expect(loaded.config.store.url).toBe("file:/var/lib/hookrelay/hookrelay.db");
  // Behind a TLS proxy on the same VM: neither side listens beyond loopback.
  expect(loaded.config.server.listen.host).toBe("127.0.0.1");
  expect(loaded.config.server.adminListen.host).toBe("127.0.0.1");
  // Every credential the config reads is loaded by the unit.
  const unit = readFileSync(join(DEPLOY, "hookrelay.service"), "utf8");
  for (const name of ["admin-token", "ploints-secret", "orders-whsec"]) expect(unit).toContain(`LoadCredential=${name}:/etc/hookrelay/credentials/${name}\n`);
});

test.skipIf(process.platform !== "linux")("serve tells systemd READY=1 once it listens and STOPPING=1 when it stops, through NOTIFY_SOCKET", async () => {
  const unit = readFileSync(join(DEPLOY, "hookrelay.service"), "utf8");
  expect(unit).toContain("Type=notify\nNotifyAccess=main\n");
  const socketPath = join(tmp.dir, "notify.sock");
  const socket = listenForNotify(socketPath);
  try {
    const cfg = join(tmp.dir, "notify.toml");
    writeFileSync(cfg, `[server]\nlisten = "127.0.0.1:0"\nadmin_listen = "127.0.0.1:0"\n[store]\nurl = "file:./notify.db"\n[[sources]]\nname = "s"\nverify = { scheme = "none" }\n`);
    const relay = await startBinary(["serve", "--config", cfg], tmp.dir, { NOTIFY_SOCKET: socketPath });
    // Ready only once it answers: the "listening" line came first.
    expect(await waitFor("READY=1", () => socket.recv(), 5000)).toBe("READY=1");
    expect((await fetch(`${relay.publicUrl}/healthz`)).status).toBe(200);
    expect(await relay.stop()).toBe(0);
    expect(socket.recv()).toBe("STOPPING=1");
  } finally {
    socket.close();
  }
});
