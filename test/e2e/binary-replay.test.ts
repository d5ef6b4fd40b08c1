import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const tmp = tempDir("hookrelay-replay-");
afterAll(() => tmp.remove());

async function run(args: string[]) {
  const p = Bun.spawn([BINARY, ...args], { cwd: tmp.dir, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [out, err] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text()]);
  return { code: await p.exited, out, err };
}

test("replay counts and schedules deliveries for stored events, and a dry run creates none", async () => {
  const received: string[] = [];
  const target = Bun.serve({ port: 0, hostname: "127.0.0.1", async fetch(req) { received.push(await req.text()); return new Response("ok"); } });
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(cfg, `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "whsec_replay" }
[[targets]]
name = "app"
url = "http://127.0.0.1:${target.port}/hooks"
signing = { secret = "whsec_${Buffer.from("replay-test-signing-key-32-bytes").toString("base64")}" }
[[routes]]
from = "ploints"
to = ["app"]
`);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  for (let i = 0; i < 3; i++) {
    const body = `{"id":"evt_${i}","type":"points.earned"}`;
    const res = await fetch(`${relay.publicUrl}/in/ploints`, { method: "POST", body, headers: { "x-ploints-signature": createHmac("sha256", "whsec_replay").update(body).digest("hex") } });
    expect(res.status).toBe(200);
  }
  for (let i = 0; i < 50 && received.length < 3; i++) await Bun.sleep(100);
  expect(received).toHaveLength(3);
  expect(await relay.stop()).toBe(0);

  const dry = await run(["replay", "--config", cfg, "--target", "app", "--dry-run"]);
  expect(dry).toMatchObject({ code: 0, out: "would schedule 3 deliveries (dry run)\n" });
  const none = await run(["replay", "--config", cfg, "--status", "failed"]);
  expect(none.out).toBe("scheduled 0 deliveries\n");
  // --since takes an ISO 8601 time as export's does: none of the events is that recent.
  const future = await run(["replay", "--config", cfg, "--since", new Date(Date.now() + 3_600_000).toISOString(), "--dry-run"]);
  expect(future).toMatchObject({ code: 0, out: "would schedule 0 deliveries (dry run)\n" });
  const real = await run(["replay", "--config", cfg, "--since", "1h"]);
  expect(real.out).toBe("scheduled 3 deliveries\n");
  const bad = await run(["replay", "--config", cfg, "--status", "lost", "--since", "soon"]);
  expect(bad.code).toBe(2);
  expect(bad.err).toContain("--status");
  expect(bad.err).toContain("--since");
  const open = await run(["replay", "--config", cfg, "--status", "paused"]);
  expect(open.code).toBe(2);
  expect(open.err).toContain("--status paused: a delivery still open is on its way and never replayed");
  // A name the config does not know is a bad flag too, with the nearest one it does.
  const typo = await run(["replay", "--config", cfg, "--source", "plonts"]);
  expect([typo.code, typo.err]).toEqual([2, 'hookrelay replay: --source: no source named "plonts"; did you mean "ploints"?\n']);
  // What the flags say alone comes before the config: no config needed to be told --status is wrong.
  const noConfig = await run(["replay", "--config", join(tmp.dir, "missing.toml"), "--status", "nope"]);
  expect(noConfig.code).toBe(2);

  const again = await startBinary(["serve", "--config", cfg], tmp.dir);
  for (let i = 0; i < 50 && received.length < 6; i++) await Bun.sleep(100);
  expect(await again.stop()).toBe(0);
  target.stop(true);
  expect(received).toHaveLength(6);
});

test("a dry run refuses a store whose schema is behind the build, and leaves it as it was", async () => {
  // The store of the test above, made to look one migration behind: its last tag's row removed.
  const db = new Database(join(tmp.dir, "relay.db"));
  const last = db.query<{ tag: string }, []>("SELECT tag FROM hookrelay_migrations ORDER BY tag DESC LIMIT 1").get()!.tag;
  db.run("DELETE FROM hookrelay_migrations WHERE tag = ?", [last]);
  const dry = await run(["replay", "--config", join(tmp.dir, "hookrelay.toml"), "--dry-run"]);
  expect(dry.code).toBe(1);
  expect(dry.err).toContain(`the store's schema is older than this build (${last} to apply), and this command changes nothing`);
  expect(db.query("SELECT count(*) AS n FROM hookrelay_migrations WHERE tag = ?").get(last)).toEqual({ n: 0 });
  db.close();
});
