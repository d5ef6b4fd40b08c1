import { afterAll, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { startBinary, startCommand } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { openStore } from "../../src/store/index.ts";

const PLOINTS = "whsec_k8x2_binary_test";
const SW_SECRET = "whsec_" + Buffer.from("binary-test-key-32-bytes-long!!!").toString("base64");
const tmp = tempDir("hookrelay-e2e-");
afterAll(() => tmp.remove());

const config = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./data/relay.db"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "env:PLOINTS_SECRET" }
[[sources]]
name = "sw"
verify = { preset = "standard-webhooks", secret = "${SW_SECRET}" }
`;

/** Posts `body` to the ploints source, signed; the answer's status. */
async function postSigned(publicUrl: string, body: string): Promise<number> {
  const headers = { "x-ploints-signature": createHmac("sha256", PLOINTS).update(body).digest("hex") };
  return (await fetch(`${publicUrl}/in/ploints`, { method: "POST", body, headers })).status;
}

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

test("the compiled binary stores every acked request byte-identical across a restart", async () => {
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(cfg, config);
  const env = { PLOINTS_SECRET: PLOINTS };
  const acked = new Map<string, string>(); // event id → body sha256

  const sendAll = async (publicUrl: string, round: number) => {
    const sw = new Webhook(SW_SECRET);
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const body = i % 2 === 0
          ? `{"id":"evt_${round}_${i}","type":"points.earned","note":"ë Ñ ú ✓"}\n`
          : `{"type":"sw.test","n":${i},"round":${round}}`;
        const headers: Record<string, string> = { "content-type": "application/json" };
        let source = "ploints";
        if (i % 2 === 0) headers["x-ploints-signature"] = createHmac("sha256", PLOINTS).update(body).digest("hex");
        else {
          source = "sw";
          const msgId = `msg_${round}_${i}`;
          const ts = new Date();
          headers["webhook-id"] = msgId;
          headers["webhook-timestamp"] = String(Math.floor(ts.getTime() / 1000));
          headers["webhook-signature"] = sw.sign(msgId, ts, body);
        }
        const res = await fetch(`${publicUrl}/in/${source}`, { method: "POST", body, headers });
        expect(res.status).toBe(200);
        acked.set(((await res.json()) as { id: string }).id, sha(body));
      }),
    );
  };

  const first = await startBinary(["serve", "--config", cfg], tmp.dir, env);
  await sendAll(first.publicUrl, 1);
  expect(await first.stop()).toBe(0);

  const second = await startBinary(["serve", "--config", cfg], tmp.dir, env);
  await sendAll(second.publicUrl, 2);
  const health = await fetch(`${second.adminUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(await second.stop()).toBe(0);
  expect(second.logs()).not.toContain(PLOINTS);

  const store = await openStore({ url: `file:${join(tmp.dir, "data/relay.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0 });
  const stored = (await store.reads.execute("SELECT id, body FROM events")).rows;
  await store.close();
  expect(stored).toHaveLength(200);
  for (const row of stored) expect(sha(new Uint8Array(row.body as ArrayBuffer))).toBe(acked.get(String(row.id))!);
});

test("serve replaces itself, same PID, name and environment, with its runtime tuning unless the operator set it", async () => {
  const cfg = join(tmp.dir, "tuning.toml");
  writeFileSync(cfg, config.replace("./data/relay.db", "./tuning.db"));
  const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  const operators = { MIMALLOC_PURGE_DELAY: "100", BUN_JSC_thresholdForFTLOptimizeAfterWarmUp: "64000" };
  for (const [set, expected] of [
    [{}, { MIMALLOC_PURGE_DELAY: "1000", BUN_JSC_thresholdForFTLOptimizeAfterWarmUp: "1000000" }],
    [operators, operators],
  ] as const) {
    const relay = await startBinary(["serve", "--config", cfg], tmp.dir, { PLOINTS_SECRET: PLOINTS, ...set });
    try {
      // The spawned PID itself serves: execve replaced it in place.
      const environ = environOf(relay.proc.pid!);
      for (const [name, value] of Object.entries(expected)) {
        expect(environ).toContain(`${name}=${value}`);
        expect(environ.filter((e) => e.startsWith(`${name}=`))).toHaveLength(1);
      }
      expect(environ).toContain(`PLOINTS_SECRET=${PLOINTS}`);
      expect(readFileSync(`/proc/${relay.proc.pid}/cmdline`, "utf8").split("\0").slice(1, 4)).toEqual(["serve", "--config", cfg]);
      // Its name is the binary's (ps, pgrep, journald), not the /proc/self/exe link's "exe".
      expect(readFileSync(`/proc/${relay.proc.pid}/comm`, "utf8").trim()).toBe("hookrelay");
      expect(await postSigned(relay.publicUrl, '{"id":"tuned"}')).toBe(200);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  }
});

test("serve reads a config handed over as a descriptor (--config <(…)) after replacing itself", async () => {
  const cfg = join(tmp.dir, "piped.toml");
  writeFileSync(cfg, config.replace("./data/relay.db", "./piped.db"));
  const { BINARY } = await import("../support/binary.ts");
  // bash's process substitution: the config arrives as /dev/fd/N, a pipe that can be read once.
  const relay = await startCommand(["bash", "-c", 'exec "$0" serve --config <(cat "$1")', BINARY, cfg], tmp.dir, { PLOINTS_SECRET: PLOINTS });
  try {
    expect(readFileSync(`/proc/${relay.proc.pid}/environ`, "utf8")).toContain("MIMALLOC_PURGE_DELAY=1000");
    expect(await postSigned(relay.publicUrl, '{"id":"piped"}')).toBe(200);
    // Which build serves, as `hookrelay version` names it.
    const metrics = await (await fetch(`${relay.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^hookrelay_build_info\{version="\d+\.\d+\.\d+",build="[0-9a-f]{10}(\+changes)?, built \d{4}-\d{2}-\d{2}"\} 1$/m);
  } finally {
    expect(await relay.stop()).toBe(0);
  }
});

test("hookrelay check names every bad key and exits 1", async () => {
  const cfg = join(tmp.dir, "bad.toml");
  writeFileSync(cfg, `[server]\nmax_body = 12\n[[sources]]\nname = "ploints"\nverify = { preset = "ploints", secret = "env:PLOINTS_UNSET_SECRET" }\n`);
  const { BINARY } = await import("../support/binary.ts");
  const p = Bun.spawn([BINARY, "check", "--config", cfg], { cwd: tmp.dir, env: { PATH: process.env.PATH ?? "" }, stderr: "pipe", stdout: "pipe" });
  const err = await new Response(p.stderr as ReadableStream).text();
  expect(await p.exited).toBe(1);
  expect(err).toContain("server.max_body");
  expect(err).toContain("sources[0].verify.secret: env var PLOINTS_UNSET_SECRET is not set");
});
