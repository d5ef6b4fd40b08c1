/**
 * Full-text search through the compiled binary, run from an empty directory
 * (FTS5 must be in the libSQL it carries): a real signed request is
 * searchable by a word of its body within 2 s of its ack while other events
 * arrive at 1,000/s, and `[store] search = false` does no index work.
 */
import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { openStore } from "../../src/store/index.ts";

const SECRET = "ploints-search-secret";
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

function relayDir(search: boolean): { dir: string; cfg: string } {
  const tmp = tempDir("hookrelay-e2e-search-");
  dirs.push(tmp);
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./data/relay.db"
search = ${search}
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${SECRET}" }
`,
  );
  return { dir: tmp.dir, cfg };
}

const send = (publicUrl: string, body: string) =>
  fetch(`${publicUrl}/in/ploints`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex") },
  });

test("a signed request is found by a word of its body within 2 s of its ack, with other events arriving at 1,000/s", async () => {
  const { dir, cfg } = relayDir(true);
  const relay = await startBinary(["serve", "--config", cfg], dir);
  try {
    let sent = 0;
    // 2,000 other events at 1,000/s: 10 every 10 ms.
    const load = (async () => {
      const started = performance.now();
      while (sent < 2000) {
        const due = Math.floor((performance.now() - started) / 10) * 10;
        const batch = [];
        for (; sent < Math.min(due, 2000); sent++) batch.push(send(relay.publicUrl, JSON.stringify({ id: `bg_${sent}`, note: "background order" })));
        await Promise.all(batch.map(async (p) => expect((await p).status).toBe(200)));
        await Bun.sleep(2);
      }
    })();
    while (sent < 800) await Bun.sleep(5);
    const res = await send(relay.publicUrl, JSON.stringify({ id: "marked", data: { note: "quetzalcoatl refund" } }));
    expect(res.status).toBe(200);
    const acked = performance.now();
    const { id } = (await res.json()) as { id: string };
    let foundAfterMs: number | null = null;
    while (performance.now() - acked < 5000) {
      const list = (await (await fetch(`${relay.adminUrl}/api/events?text=quetzalcoatl`)).json()) as { events: { id: string }[] };
      if (list.events.some((e) => e.id === id)) {
        foundAfterMs = performance.now() - acked;
        break;
      }
      await Bun.sleep(25);
    }
    await load;
    expect(foundAfterMs).not.toBeNull();
    console.log(`search: found ${Math.round(foundAfterMs!)} ms after its ack, 1,000 events/s arriving`);
    expect(foundAfterMs!).toBeLessThan(2000);
    expect(await relay.stop()).toBe(0);
  } finally {
    relay.proc.kill();
  }
}, 30_000);

test("with [store] search = false, text= answers 400 and nothing is indexed", async () => {
  const { dir, cfg } = relayDir(false);
  const relay = await startBinary(["serve", "--config", cfg], dir);
  try {
    expect((await send(relay.publicUrl, JSON.stringify({ id: "off_1", note: "unindexed" }))).status).toBe(200);
    const res = await fetch(`${relay.adminUrl}/api/events?text=unindexed`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("search_off");
    // Absence cannot be polled for: give an indexer several of its 200 ms periods to show up.
    await Bun.sleep(1000);
    expect(await relay.stop()).toBe(0);
  } finally {
    relay.proc.kill();
  }
  const store = await openStore({ url: `file:${join(dir, "data/relay.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0 });
  try {
    const state = await store.reads.execute("SELECT hi, (SELECT count(*) FROM events) AS events FROM search_state");
    expect(state.rows.map((r) => [Number(r.hi), Number(r.events)])).toEqual([[0, 1]]);
  } finally {
    await store.close();
  }
}, 30_000);
