/**
 * The dev relay's generated config, run in process with the real delivery
 * engine: what `hookrelay dev` forwards, byte for byte, signed with the
 * secret it keeps in .hookrelay/signing-secret.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { createApp } from "../../src/app.ts";
import { devConfigToml, prepareDevDir } from "../../src/cli/dev.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createDeliveryEngine } from "../../src/delivery/engine.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { recordingTarget, runCleanups, tempDir } from "../delivery/fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function devRelay(flags: { preset?: string; secret?: string }, forwardTo: string) {
  const dir = join(tempDir(cleanups), ".hookrelay");
  prepareDevDir(dir);
  const { toml, env } = devConfigToml({ forwardTo, port: 0, adminPort: 0, dir, ...flags }, {});
  const loaded = loadConfig(toml, { env, baseDir: dir });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const store = await openStore({ url: loaded.config.store.url, busyTimeoutMs: 2000, nowMs: Date.now, checkpointEveryMs: 0 });
  const engine = createDeliveryEngine({ config: loaded.config, store, log: silentLogger, pollMs: 60_000 });
  cleanups.unshift(async () => {
    await engine.stop(100);
    await store.close();
  });
  const app = createApp({ config: loaded.config, store, log: silentLogger, delivery: engine });
  return { dir, loaded, engine, app };
}

test("dev without a preset accepts unsigned requests, warns, and forwards the exact bytes signed", async () => {
  const target = recordingTarget(cleanups);
  const { dir, loaded, engine, app } = await devRelay({}, target.url);
  expect(loaded.ok && loaded.warnings.join()).toContain("scheme none");
  const body = '{"n":1.50,"name":"ë ✓"}\n';
  const res = await app.publicApp.handle(new Request("http://127.0.0.1/in/dev", { method: "POST", body, headers: { "content-type": "application/json" } }));
  expect(res.status).toBe(200);
  await engine.drain();
  expect(target.received).toHaveLength(1);
  const rec = target.received[0]!;
  expect(rec.path).toBe("/hooks");
  expect(new TextDecoder().decode(rec.body)).toBe(body);
  const secret = readFileSync(join(dir, "signing-secret"), "utf8").trim();
  expect(statSync(join(dir, "signing-secret")).mode & 0o777).toBe(0o600);
  expect(() => new Webhook(secret).verify(Buffer.from(rec.body), Object.fromEntries(rec.headers))).not.toThrow();
});

test("dev with --preset and --secret verifies like a configured source", async () => {
  const { app } = await devRelay({ preset: "ploints", secret: "dev-secret" }, "http://127.0.0.1:9/hooks");
  const res = await app.publicApp.handle(new Request("http://127.0.0.1/in/dev", { method: "POST", body: "{}", headers: { "x-ploints-signature": "00" } }));
  expect(res.status).toBe(401);
});

test("a literal --secret never appears in the generated config text", () => {
  const { toml, env } = devConfigToml({ forwardTo: "http://localhost:3000/", preset: "stripe", secret: "whsec_literal", port: 1, adminPort: 2, dir: "/x" }, {});
  expect(toml).not.toContain("whsec_literal");
  expect(Object.values(env)).toContain("whsec_literal");
});

test("the signing secret is kept across runs", () => {
  const dir = join(tempDir(cleanups), ".hookrelay");
  prepareDevDir(dir);
  const first = readFileSync(join(dir, "signing-secret"), "utf8");
  prepareDevDir(dir);
  expect(readFileSync(join(dir, "signing-secret"), "utf8")).toBe(first);
  expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=\n$/);
});
