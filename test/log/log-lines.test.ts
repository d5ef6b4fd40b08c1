import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { tempDir } from "../support/relay.ts";

const SECRET = "whsec_log_line_secret_value";
const BODY_MARKER = "body-marker-must-not-be-logged";
const tmp = tempDir("hookrelay-log-");
afterAll(() => tmp.remove());

test("received and rejected lines carry ids and reasons, never the secret or the body", async () => {
  const loaded = loadConfig(
    `[[sources]]\nname = "ploints"\nverify = { preset = "ploints", secret = "${SECRET}" }\n`,
    { env: {}, baseDir: tmp.dir },
  );
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const lines: string[] = [];
  const store = await openStore({ url: `file:${join(tmp.dir, "r.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0 });
  const app = createApp({ config: loaded.config, store, log: createLogger("info", (l) => lines.push(l)) });
  const post = (body: string, sig: string) =>
    app.publicApp.handle(new Request("http://127.0.0.1/in/ploints", { method: "POST", body, headers: { "x-ploints-signature": sig } }));
  const body = `{"id":"e1","note":"${BODY_MARKER}"}`;
  const res = await post(body, createHmac("sha256", SECRET).update(body).digest("hex"));
  const { id } = (await res.json()) as { id: string };
  await post(body, "0".repeat(64));
  await store.close();

  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed.find((l) => l.msg === "received")).toMatchObject({ level: "info", source: "ploints", id });
  expect(parsed.find((l) => l.msg === "rejected")).toMatchObject({ level: "info", source: "ploints", reason: "bad_signature" });
  const all = lines.join("");
  expect(all).not.toContain(SECRET);
  expect(all).not.toContain(BODY_MARKER);
});

test("an address shut out for failed admin tokens is logged once, with the address, never the token", async () => {
  const TOKEN = "the-right-admin-token-0123456789";
  const loaded = loadConfig(`[admin]\ntoken = "${TOKEN}"\n[[sources]]\nname = "p"\nverify = { preset = "ploints", secret = "${SECRET}" }\n`, { env: {}, baseDir: tmp.dir });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const lines: string[] = [];
  const store = await openStore({ url: `file:${join(tmp.dir, "auth.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0 });
  const app = createApp({ config: loaded.config, store, log: createLogger("info", (l) => lines.push(l)) });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await app.adminApp.handle(new Request("http://127.0.0.1/api/events", { headers: { authorization: "Bearer an-old-token-still-in-a-scraper" } }));
    statuses.push(res.status);
  }
  await store.close();
  expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
  expect(statuses.at(-1)).toBe(429);
  const shutOut = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "token attempts refused for a while");
  expect(shutOut).toHaveLength(1);
  expect(shutOut[0]).toMatchObject({ level: "warn", door: "admin", failures: 5 });
  expect(typeof shutOut[0]!.remote).toBe("string");
  expect(lines.join("")).not.toContain("an-old-token-still-in-a-scraper");
  expect(lines.join("")).not.toContain(TOKEN);
});
