/**
 * A flood of bad requests against the compiled binary writes at most one
 * "rejected" line a second per (source, reason), each with the count it
 * stands for, and the counts add up to every request refused, including
 * the last second's, which is written at stop.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const tmp = tempDir("hookrelay-flood-");
afterAll(() => tmp.remove());

const config = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "whsec_flood_test_secret" }
[[sources]]
name = "points"
verify = { preset = "points", secret = "points_flood_secret" }
`;

interface Line {
  msg: string;
  source?: string;
  reason?: string;
  count?: number;
}

/** "rejected" lines grouped by source/reason: how many lines, and the sum of their counts. */
function rejectedLines(logs: string): Map<string, { lines: number; total: number }> {
  const out = new Map<string, { lines: number; total: number }>();
  for (const raw of logs.split("\n")) {
    if (!raw.startsWith("{")) continue;
    const line = JSON.parse(raw) as Line;
    if (line.msg !== "rejected") continue;
    const key = `${line.source}/${line.reason}`;
    const agg = out.get(key) ?? { lines: 0, total: 0 };
    agg.lines++;
    agg.total += line.count ?? 1;
    out.set(key, agg);
  }
  return out;
}

/** Sends `count` bad requests, `concurrency` at a time. */
async function flood(url: string, count: number, concurrency: number, headers: Record<string, string>) {
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < count) {
        sent++;
        const res = await fetch(url, { method: "POST", body: '{"id":"x"}', headers });
        expect(res.status).toBe(401);
        await res.arrayBuffer();
      }
    }),
  );
}

/** Polls (bounded) until `check` passes on the relay's log. */
async function untilLogged(logs: () => string, check: (m: Map<string, { lines: number; total: number }>) => boolean) {
  const deadline = Date.now() + 10_000;
  while (!check(rejectedLines(logs())) && Date.now() < deadline) await Bun.sleep(50);
  return rejectedLines(logs());
}

test("a flood of rejections logs at most one line a second per source and reason, with counts that add up", async () => {
  const cfg = join(tmp.dir, "flood.toml");
  writeFileSync(cfg, config);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  try {
    const started = Date.now();
    await Promise.all([
      flood(`${relay.publicUrl}/in/ploints`, 3000, 32, { "x-ploints-signature": "0".repeat(64) }),
      flood(`${relay.publicUrl}/in/ploints`, 1000, 8, {}),
      flood(`${relay.publicUrl}/in/points`, 1000, 8, { "x-webhook-secret": "wrong" }),
    ]);
    // The last second's summary is written when that second ends.
    const expected = { "ploints/bad_signature": 3000, "ploints/missing_signature": 1000, "points/bad_signature": 1000 };
    const seen = await untilLogged(relay.logs, (m) => Object.entries(expected).every(([key, total]) => m.get(key)?.total === total));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    for (const [key, total] of Object.entries(expected)) expect({ key, total: seen.get(key)?.total }).toEqual({ key, total });
    for (const [key, { lines }] of seen) expect({ key, fewLines: lines <= seconds + 1 }).toEqual({ key, fewLines: true });
  } finally {
    expect(await relay.stop()).toBe(0);
  }
});

test("the rejections of the last second are written when the relay stops", async () => {
  const cfg = join(tmp.dir, "stop.toml");
  writeFileSync(cfg, config.replace("./relay.db", "./stop.db"));
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  await flood(`${relay.publicUrl}/in/ploints`, 300, 16, { "x-ploints-signature": "0".repeat(64) });
  expect(await relay.stop()).toBe(0);
  const seen = await untilLogged(relay.logs, (m) => m.get("ploints/bad_signature")?.total === 300);
  expect(seen.get("ploints/bad_signature")?.total).toBe(300);
});
