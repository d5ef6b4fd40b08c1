import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { openStoreReader } from "../../src/store/index.ts";
import { runBinary, startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { writePlointsConfig } from "../support/ploints-config.ts";

const tmp = tempDir("hookrelay-backup-");
afterAll(() => tmp.remove());

const run = (args: string[]) => runBinary(args, tmp.dir);
const SECRET = "whsec_backup";

function config(name: string, db: string, targetPort: number): string {
  return writePlointsConfig({ dir: tmp.dir, name, db, secret: SECRET, targetPort });
}

let seq = 0;
/** One signed request; its ack latency in ms and the event id. */
async function send(relay: RunningBinary, pad: string): Promise<{ id: string; ms: number }> {
  const body = JSON.stringify({ id: `e${++seq}`, type: "points.earned", pad });
  const t0 = performance.now();
  const res = await fetch(`${relay.publicUrl}/in/ploints`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex") },
  });
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
  return { id: ((await res.json()) as { id: string }).id, ms };
}

/** Sends from `workers` loops until stop() resolves; every ack with the time it finished. */
function stream(relay: RunningBinary, workers: number, pad: string) {
  const acks: { id: string; ms: number; at: number }[] = [];
  let stopping = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      const a = await send(relay, pad);
      acks.push({ ...a, at: performance.now() });
    }
  });
  return {
    acks,
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

const maxMs = (xs: { ms: number }[]) => Math.max(...xs.map((x) => x.ms));

test("a backup taken while the relay ingests is a consistent working store holding every event acked before it began, and acks are not held up meanwhile", async () => {
  const target = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  const cfg = config("live", "live.db", target.port!);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  const pad = "x".repeat(8 * 1024);
  // Enough stored that the copy takes a while.
  const seed = stream(relay, 8, pad);
  await Bun.sleep(3000);
  await seed.stop();

  // Ack latency without a backup, then with one running.
  const quiet = stream(relay, 4, pad);
  await Bun.sleep(1500);
  await quiet.stop();

  const during = stream(relay, 4, pad);
  await Bun.sleep(200);
  const startedAt = performance.now();
  const ackedBefore = during.acks.filter((a) => a.at < startedAt).map((a) => a.id);
  const allBefore = [...seed.acks, ...quiet.acks].map((a) => a.id).concat(ackedBefore);
  const backup = await run(["backup", "--config", cfg, "--to", "copy.db"]);
  const endedAt = performance.now();
  await Bun.sleep(200);
  await during.stop();
  const inWindow = during.acks.filter((a) => a.at > startedAt && a.at - a.ms < endedAt);
  console.log(
    `backup of ${allBefore.length}+ events took ${Math.round(endedAt - startedAt)} ms; max ack without a backup ${maxMs(quiet.acks).toFixed(1)} ms, ` +
      `during it ${maxMs(inWindow).toFixed(1)} ms over ${inWindow.length} acks`,
  );
  expect(backup.err).toBe("");
  expect(backup.code).toBe(0);
  expect(inWindow.length).toBeGreaterThan(0);
  expect(maxMs(inWindow)).toBeLessThanOrEqual(1000);

  const copy = join(tmp.dir, "copy.db");
  expect(statSync(copy).mode & 0o777).toBe(0o600);
  // One self-contained file: no journal of the copy's nor of its temporary name left beside it.
  const leftBeside = () => readdirSync(tmp.dir).filter((f) => f.includes(".partial-") || /^(copy|offline)\.db-/.test(f));
  expect(leftBeside()).toEqual([]);
  const reader = await openStoreReader({ url: `file:${copy}`, busyTimeoutMs: 1000 });
  const check = await reader.reads.execute("PRAGMA integrity_check");
  expect(String(check.rows[0]![0])).toBe("ok");
  const stored = new Set((await reader.reads.execute("SELECT id FROM events")).rows.map((r) => String(r.id)));
  reader.close();
  expect(allBefore.filter((id) => !stored.has(id))).toEqual([]);
  expect(backup.out).toContain(copy);
  expect(backup.out).toContain(`backup of ${join(tmp.dir, "live.db")} written to`);
  expect(backup.out).toContain(`${stored.size} events`);
  expect(backup.out).toMatch(/\d+(\.\d+)? (KiB|MiB|GiB|bytes)/);

  // The copy serves: a relay on it answers for an event acked before the backup.
  const onCopy = await startBinary(["serve", "--config", config("copy", "copy.db", target.port!)], tmp.dir);
  const res = await fetch(`${onCopy.adminUrl}/api/events/${allBefore[0]}`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { request: { body: string } }).request.body).toContain(pad);
  expect(await onCopy.stop()).toBe(0);

  // With no relay running, too: the copy holds every event.
  expect(await relay.stop()).toBe(0);
  const offline = await run(["backup", "--config", cfg, "--to", "offline.db"]);
  expect(offline.code).toBe(0);
  const total = seed.acks.length + quiet.acks.length + during.acks.length;
  expect(offline.out).toContain(`${total} events`);
  expect(leftBeside().filter((f) => f.startsWith("offline") || f.includes("offline"))).toEqual([]);
  // Exporting from the copy reads it as it is: it stays one file, no -wal or -shm made beside it.
  const exported = await run(["export", "--config", config("offline", "offline.db", target.port!), "--out", "offline.ndjson"]);
  expect(exported.code).toBe(0);
  expect(readdirSync(tmp.dir).filter((f) => /^offline\.db-/.test(f))).toEqual([]);
  target.stop(true);
}, 90_000);

test("backup and export refuse to write over the store or its WAL, --force or not, by any name", async () => {
  const cfg = config("own", "own.db", 9);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  await send(relay, "a");
  symlinkSync(join(tmp.dir, "own.db"), join(tmp.dir, "own-link.db"));
  const attempts = [
    ["backup", "--config", cfg, "--to", "own.db", "--force"],
    ["backup", "--config", cfg, "--to", "./own-link.db", "--force"],
    ["backup", "--config", cfg, "--to", "own.db-wal", "--force"],
    ["export", "--config", cfg, "--out", "own.db", "--force"],
    ["export", "--config", cfg, "--out", "own-link.db"],
  ];
  for (const args of attempts) {
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is the store(?: itself|'s -wal file); write it elsewhere/);
  }
  // The relay still has its store: what it acks is there after a restart.
  await send(relay, "b");
  expect(await relay.stop()).toBe(0);
  const store = await openStoreReader({ url: `file:${join(tmp.dir, "own.db")}`, busyTimeoutMs: 1000 });
  expect((await store.reads.execute("SELECT count(*) AS n FROM events")).rows[0]!.n).toBe(2);
  store.close();
}, 30_000);

test("backup refuses to overwrite a file without --force and names a path it cannot write", async () => {
  const target = { port: 9 };
  const cfg = config("small", "small.db", target.port);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  expect(await relay.stop()).toBe(0);
  expect((await run(["backup", "--config", cfg, "--to", "b.db"])).code).toBe(0);
  const again = await run(["backup", "--config", cfg, "--to", "b.db"]);
  expect(again.code).toBe(1);
  expect(again.err).toContain("already exists (--force replaces it)");
  expect((await run(["backup", "--config", cfg, "--to", "b.db", "--force"])).code).toBe(0);

  const noDir = await run(["backup", "--config", cfg, "--to", "missing/dir/b.db"]);
  expect(noDir.code).toBe(1);
  expect(noDir.err).toContain("does not exist");
  mkdirSync(join(tmp.dir, "adir"));
  const isDir = await run(["backup", "--config", cfg, "--to", "adir", "--force"]);
  expect(isDir.code).toBe(1);
  expect(isDir.err).toContain("not a regular file");
  const noTo = await run(["backup", "--config", cfg]);
  expect(noTo.code).toBe(2);
  expect(noTo.err).toContain("--to");
  const noStore = await run(["backup", "--config", config("none", "none.db", 9), "--to", "n.db"]);
  expect(noStore.code).toBe(1);
  expect(noStore.err).toContain("does not exist");
}, 30_000);
