/**
 * The store failing under the compiled binary: full (a tiny tmpfs), locked by
 * another process past busy_timeout, and unusable at start (garbage, a
 * truncated file, a directory). Never ack what is not stored; never replace
 * a store that cannot be read.
 */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, startBinary } from "../support/binary.ts";
import { openStoreFile, recordingTarget, perTestCleanups, relayToml, runBinary, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const { later, scratch: setup, track } = perTestCleanups();

/** Mounts a tmpfs of `size` at `dir` (needs CAP_SYS_ADMIN); the reason it cannot, or null. */
function mountTmpfs(dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  const p = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stderr: "pipe" });
  if (p.exitCode !== 0) return `mount -t tmpfs failed: ${p.stderr.toString().trim() || `exit ${p.exitCode}`}`;
  return null;
}

/** The bytes free on the filesystem at `dir`, as df counts them. */
const freeBytes = (dir: string) => Number(Bun.spawnSync(["df", "-B1", "--output=avail", dir]).stdout.toString().trim().split("\n").pop()!);

/** A tmpfs of `size` mounted at `dir` for this test (lazily unmounted after it). */
function mountedTmpfs(dir: string, size: string): string {
  expect(mountTmpfs(dir, size)).toBeNull();
  later(() => Bun.spawnSync(["umount", "-l", dir]));
  return dir;
}

// A full disk needs a small filesystem: a tmpfs, which only root (CAP_SYS_ADMIN) may mount.
// Probe once, so that the test is reported as skipped (with the reason) rather than passed.
const cannotMount = (() => {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root";
  const probe = scratchDir("hookrelay-mount-probe-");
  try {
    const reason = mountTmpfs(join(probe.dir, "m"), "64k");
    if (reason === null) Bun.spawnSync(["umount", join(probe.dir, "m")]);
    return reason;
  } finally {
    probe.remove();
  }
})();
if (cannotMount) console.warn(`store-full test skipped: cannot mount a small tmpfs to fill (${cannotMount})`);

test.skipIf(cannotMount !== null)("a full disk answers 503 with Retry-After, the process stays up, and writes succeed again once space is freed", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "small"), "4m");
  const bin = track(await serveBinary(dir, relayToml({ storeUrl: `file:${mnt}/relay.db`, maxBody: "256kb" })));
  const acked = new Map<string, string>();
  const send = async (i: number) => {
    const body = JSON.stringify({ id: `full_${i}`, type: "points.earned", pad: "z".repeat(60_000) + i });
    const r = await sendEvent(bin.publicUrl, body);
    if (r.status === 200) acked.set(r.json.id!, body);
    return r;
  };
  // Leave ~300 KB free, then write 60 KB events until the store cannot take more.
  const free = () => freeBytes(mnt);
  writeFileSync(join(mnt, "filler"), new Uint8Array(Math.max(0, free() - 300_000)));
  let full: Awaited<ReturnType<typeof send>> | null = null;
  for (let i = 0; i < 40 && !full; i++) {
    const r = await send(i);
    if (r.status !== 200) full = r;
  }
  expect(full).not.toBeNull();
  expect(full!.status).toBe(503);
  expect(full!.json.error).toEqual({ code: "store_unavailable", message: "event not stored (full); retry later" });
  expect(Number(full!.headers.get("retry-after"))).toBeGreaterThan(0);
  // Still up: health answers and another request is refused the same way, not crashed.
  expect((await fetch(`${bin.adminUrl}/healthz`)).status).toBe(200);
  expect((await send(1000)).status).toBe(503);
  expect(bin.proc.exitCode).toBeNull();

  // Space comes back; the same process stores again (no restart).
  Bun.spawnSync(["rm", "-f", join(mnt, "filler")]);
  const again = await waitFor("a 200 after space was freed", async () => ((await send(2000)).status === 200 ? true : null), 10_000, 200);
  expect(again).toBe(true);
  expect((await fetch(`${bin.adminUrl}/readyz`)).status).toBe(200);
  expect(await bin.stop()).toBe(0);

  const store = await openStoreFile(join(mnt, "relay.db"));
  const rows = await store.reads.execute("SELECT id, body FROM events");
  await store.close();
  const stored = new Map(rows.rows.map((r) => [String(r.id), Buffer.from(r.body as ArrayBuffer).toString()]));
  console.log(`store full: ${acked.size} acked (${acked.size - 1} before the disk filled), ${stored.size} stored`);
  for (const [id, body] of acked) expect(stored.get(id)).toBe(body);
}, 30_000);

test.skipIf(cannotMount !== null)("a full disk while delivering: 503s, the relay keeps running, and every acked event reaches the target once space is back", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "small"), "4m");
  const target = recordingTarget();
  later(() => target.stop());
  // Delivery writes (leases, outcomes, attempts) share the ingest commit: they meet the full disk too.
  const bin = track(await serveBinary(dir, relayToml({ storeUrl: `file:${mnt}/relay.db`, maxBody: "256kb", targets: [{ url: target.url }] })));
  const acked = new Set<string>();
  const send = async (i: number) => {
    const r = await sendEvent(bin.publicUrl, JSON.stringify({ id: `fulld_${i}`, type: "points.earned", pad: "y".repeat(60_000) + i }));
    if (r.status === 200) acked.add(r.json.id!);
    return r.status;
  };
  const free = () => freeBytes(mnt);
  writeFileSync(join(mnt, "filler"), new Uint8Array(Math.max(0, free() - 300_000)));
  const statuses: number[] = [];
  for (let i = 0; i < 40 && !statuses.includes(503); i++) statuses.push(await send(i));
  expect(statuses.at(-1)).toBe(503);
  expect(acked.size).toBeGreaterThan(0);
  expect(bin.proc.exitCode).toBeNull();

  Bun.spawnSync(["rm", "-f", join(mnt, "filler")]);
  await waitFor("a 200 after space was freed", async () => ((await send(1000)) === 200 ? true : null), 10_000, 200);
  // Every acked event is delivered (webhook-id is the event id), whatever happened to its first lease or outcome.
  await waitFor("every acked event delivered", () => [...acked].every((id) => target.byId.has(id)), 20_000, 100);
  expect(bin.proc.exitCode).toBeNull();
  expect(await bin.stop()).toBe(0);
}, 45_000);

test.skipIf(cannotMount !== null)("on a small disk a burst fills it with events, not with the WAL, and freeing a little lets the providers' retries in", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "small"), "16m");
  const target = recordingTarget();
  later(() => target.stop());
  const bin = track(await serveBinary(dir, relayToml({ storeUrl: `file:${mnt}/relay.db`, maxBody: "64kb", targets: [{ url: target.url }] })));
  const free = () => freeBytes(mnt);
  const room = 10_000_000;
  writeFileSync(join(mnt, "filler"), new Uint8Array(Math.max(0, free() - room)));
  const walSize = () => statSync(join(mnt, "relay.db-wal"), { throwIfNoEntry: false })?.size ?? 0;
  // A burst after a quiet start (the checkpointer's idle pace), twenty at a time, until the disk is full.
  const acked = new Set<string>();
  let refused: string[] = [];
  let n = 0;
  while (refused.length === 0 && n < 20_000) {
    const batch = Array.from({ length: 20 }, () => `burst_${n++}`);
    const statuses = await Promise.all(batch.map(async (id) => {
      const r = await sendEvent(bin.publicUrl, JSON.stringify({ id, type: "points.earned", pad: "w".repeat(2000) }));
      if (r.status === 200) acked.add(r.json.id!);
      return r.status;
    }));
    refused = batch.filter((_, i) => statuses[i] !== 200);
  }
  expect(refused.length).toBeGreaterThan(0);
  // The WAL starts over well before it could take the room a checkpoint needs to copy it into the
  // database file (it took it all, and the store could never commit again short of freeing as much).
  const wal = walSize();
  console.log(`small disk: ${acked.size} events stored in ${room / 1e6} MB, WAL ${(wal / 1e6).toFixed(1)} MB when full`);
  expect(wal).toBeLessThan(room * 0.6);

  // A little room back: the refused events, sent again as a provider would, are stored and delivered.
  truncateSync(join(mnt, "filler"), Math.max(0, statSync(join(mnt, "filler")).size - 2_000_000));
  await waitFor("the refused events stored after room was freed", async () => {
    const statuses = await Promise.all(refused.map(async (id) => {
      const r = await sendEvent(bin.publicUrl, JSON.stringify({ id, type: "points.earned", pad: "w".repeat(2000) }));
      if (r.status === 200) acked.add(r.json.id!);
      return r.status;
    }));
    refused = refused.filter((_, i) => statuses[i] !== 200);
    return refused.length === 0 ? true : null;
  }, 15_000, 300);
  await waitFor("every acked event delivered", () => [...acked].every((id) => target.byId.has(id)), 20_000, 100);
  expect(await bin.stop()).toBe(0);
}, 60_000);

test.skipIf(cannotMount !== null)("a backup that runs out of room fails, says so, and leaves nothing behind at its destination", async () => {
  const dir = setup();
  const bin = track(await serveBinary(dir, relayToml({ maxBody: "256kb" })));
  for (let i = 0; i < 40; i++) expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: `big_${i}`, type: "x", pad: "q".repeat(60_000) + i }))).status).toBe(200);
  expect(await bin.stop()).toBe(0);
  const mnt = mountedTmpfs(join(dir, "small"), "512k");
  const r = await runBinary(["backup", "--config", join(dir, "hookrelay.toml"), "--to", join(mnt, "copy.db")], dir, 30_000);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("hookrelay backup: the copy failed");
  // Neither the copy's temporary name nor a journal SQLite left beside it.
  expect(readdirSync(mnt)).toEqual([]);
});

test.skipIf(cannotMount !== null)("/readyz answers 503 while the full store cannot commit, and 200 again once space is freed, with no request in between", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "small"), "4m");
  const bin = track(await serveBinary(dir, relayToml({ storeUrl: `file:${mnt}/relay.db`, maxBody: "256kb" })));
  const readyz = async () => {
    const res = await fetch(`${bin.adminUrl}/readyz`);
    return { status: res.status, body: (await res.json()) as { ok: boolean; store: string } };
  };
  expect((await readyz()).status).toBe(200);
  const free = () => freeBytes(mnt);
  writeFileSync(join(mnt, "filler"), new Uint8Array(Math.max(0, free() - 300_000)));
  let status = 200;
  for (let i = 0; i < 40 && status === 200; i++) status = (await sendEvent(bin.publicUrl, JSON.stringify({ id: `rz_${i}`, pad: "r".repeat(60_000) + i }))).status;
  expect(status).toBe(503);
  // A commit just failed for want of space: not ready, however cheap a probe commit would be.
  expect(await readyz()).toEqual({ status: 503, body: { ok: false, store: "full" } });
  expect((await readyz()).status).toBe(503);
  const writable = async () => /^hookrelay_store_writable (\d)$/m.exec(await (await fetch(`${bin.adminUrl}/metrics`)).text())?.[1];
  expect(await writable()).toBe("0");

  Bun.spawnSync(["rm", "-f", join(mnt, "filler")]);
  // Ready again by itself: a balancer that stopped sending while it was 503 would never send the request that proves it.
  await waitFor("/readyz 200 after space was freed", async () => ((await readyz()).status === 200 ? true : null), 10_000, 100);
  expect(await readyz()).toEqual({ status: 200, body: { ok: true, store: "writable" } });
  expect(await writable()).toBe("1");
  expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "rz_after", pad: "r".repeat(60_000) }))).status).toBe(200);
  expect(await bin.stop()).toBe(0);
}, 30_000);

/** Makes the tmpfs at `mnt` read-only (root ignores permission bits, but not a read-only mount). */
function remountReadOnly(mnt: string): void {
  const p = Bun.spawnSync(["mount", "-o", "remount,ro", mnt], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`remount,ro ${mnt}: ${p.stderr.toString().trim()}`);
}

/** The store-open failure of a start on a read-only store: one line, before anything listened. */
function expectRefusedReadOnly(r: { code: number; stdout: string; stderr: string }, line: string): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("{") && !l.startsWith("WARNING") && !l.startsWith("         "));
  expect(lines).toEqual([line]);
  expect(r.stderr).not.toContain('"msg":"listening"');
  expect(r.stdout).not.toContain("Paste into the provider");
}

test.skipIf(cannotMount !== null)("a store on a read-only filesystem makes serve exit 1 with one clear line before listening: existing store, new file, new directory", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "ro"), "8m");
  const bin = track(await serveBinary(dir, relayToml({ storeUrl: `file:${mnt}/data/relay.db` })));
  expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "before_ro" }))).status).toBe(200);
  expect(await bin.stop()).toBe(0);
  remountReadOnly(mnt);
  for (const [url, line] of [
    [`file:${mnt}/data/relay.db`, `hookrelay: cannot open the store: ${mnt}/data/relay.db: store is read-only (read-only file system)`],
    [`file:${mnt}/data/new.db`, `hookrelay: cannot open the store: ${mnt}/data/new.db: store is read-only (read-only file system)`],
    [`file:${mnt}/fresh/relay.db`, `hookrelay: cannot open the store: cannot create the store directory ${mnt}/fresh (read-only file system)`],
  ] as const) {
    writeFileSync(join(dir, "hookrelay.toml"), relayToml({ storeUrl: url }));
    expectRefusedReadOnly(await runBinary(["serve", "--config", "hookrelay.toml"], dir, 10_000), line);
  }
});

test.skipIf(cannotMount !== null)("dev whose ./.hookrelay became read-only exits 1 with the same one line before listening", async () => {
  const dir = setup();
  const mnt = mountedTmpfs(join(dir, "ro"), "8m");
  const args = ["dev", "--forward-to", "http://127.0.0.1:9/hooks", "--port", "0", "--admin-port", "0"];
  const first = track(await startBinary(args, mnt));
  expect(await first.stop()).toBe(0);
  remountReadOnly(mnt);
  const db = join(mnt, ".hookrelay/hookrelay.db");
  expectRefusedReadOnly(await runBinary(args, mnt, 10_000), `hookrelay: cannot open the store: ${db}: store is read-only (read-only file system)`);
});

// Permission bits bind only an unprivileged user: as root, run the binary as nobody.
const cannotDropPrivileges = process.getuid?.() !== 0 ? "not root" : !Bun.which("setpriv") ? "setpriv is missing" : null;
if (cannotDropPrivileges) console.warn(`store-permissions test skipped: cannot run the binary as another user (${cannotDropPrivileges})`);

/** `serve --config hookrelay.toml` in `dir` as the user nobody, to its end (10 s at most). */
async function serveAsNobody(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", await ensureBinary(), "serve", "--config", "hookrelay.toml"], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 10_000,
  });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, stdout, stderr };
}

test.skipIf(cannotDropPrivileges !== null)("a store whose directory its user may not write makes serve exit 1 naming the directory, before listening", async () => {
  const dir = setup();
  chmodSync(dir, 0o755);
  const db = join(dir, "data/relay.db");
  await (await openStoreFile(db)).close();
  for (const f of readdirSync(join(dir, "data"))) if (f !== "relay.db") rmSync(join(dir, "data", f));
  Bun.spawnSync(["chown", "-R", "nobody", join(dir, "data")]);
  chmodSync(join(dir, "data"), 0o500);
  writeFileSync(join(dir, "hookrelay.toml"), relayToml({}));
  expectRefusedReadOnly(
    await serveAsNobody(dir),
    `hookrelay: cannot open the store: ${db}: store is read-only (permission denied on ${join(dir, "data")})`,
  );
});

test("a store locked by another process past busy_timeout answers 503 with Retry-After, then 200 once released", async () => {
  const dir = setup();
  const db = join(dir, "data/relay.db");
  const bin = track(await serveBinary(dir, relayToml({ busyTimeout: "300ms" })));
  const before = await sendEvent(bin.publicUrl, JSON.stringify({ id: "before_lock", type: "x" }));
  expect(before.status).toBe(200);

  const holder = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/hold-lock.ts"), db], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  later(() => holder.kill("SIGKILL"));
  const out = (holder.stdout as ReadableStream<Uint8Array>).getReader();
  expect(new TextDecoder().decode((await out.read()).value)).toContain("locked");

  const started = performance.now();
  const locked = await sendEvent(bin.publicUrl, JSON.stringify({ id: "while_locked", type: "x" }));
  const waitedMs = performance.now() - started;
  expect(locked.status).toBe(503);
  expect(locked.json.error).toEqual({ code: "store_unavailable", message: "event not stored (busy); retry later" });
  expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
  // It waited for the lock (busy_timeout) before giving up, and did not hang.
  expect(waitedMs).toBeGreaterThan(250);
  expect(waitedMs).toBeLessThan(5_000);
  const ready = await fetch(`${bin.adminUrl}/readyz`);
  expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 503, body: { ok: false, store: "busy" } });
  // Requests that arrive while a write waits for the lock wait with it, not for a try of their own after it.
  const waits = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      await Bun.sleep(i * 50);
      const t = performance.now();
      const r = await sendEvent(bin.publicUrl, JSON.stringify({ id: `queued_${i}`, type: "x" }));
      expect(r.status).toBe(503);
      return performance.now() - t;
    }),
  );
  expect(Math.max(...waits)).toBeLessThan(450);
  // So does a readiness probe: answered within busy_timeout, not after a wait of its own behind another.
  const probes = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      await Bun.sleep(i * 80);
      const t = performance.now();
      const res = await fetch(`${bin.adminUrl}/readyz`);
      return { status: res.status, ms: performance.now() - t };
    }),
  );
  expect(probes.map((p) => p.status)).toEqual([503, 503, 503, 503]);
  expect(Math.max(...probes.map((p) => p.ms))).toBeLessThan(450);

  holder.stdin!.write("release\n");
  await holder.stdin!.end();
  expect(await holder.exited).toBe(0);
  const retried = await sendEvent(bin.publicUrl, JSON.stringify({ id: "while_locked", type: "x" }));
  expect(retried.status).toBe(200);
  expect(retried.json.duplicate).toBeUndefined();
  expect(await bin.stop()).toBe(0);

  const store = await openStoreFile(db);
  const keys = (await store.reads.execute("SELECT dedupe_key FROM events ORDER BY dedupe_key")).rows.map((r) => r.dedupe_key);
  await store.close();
  expect(keys).toEqual(["before_lock", "while_locked"]);
});

test("/readyz answers a locked store within a second, whatever busy_timeout is: a health check's own timeout is shorter", async () => {
  const dir = setup();
  const bin = track(await serveBinary(dir, relayToml({ busyTimeout: "20s" })));
  const holder = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures/hold-lock.ts"), join(dir, "data/relay.db")], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  later(() => holder.kill("SIGKILL"));
  expect(new TextDecoder().decode((await (holder.stdout as ReadableStream<Uint8Array>).getReader().read()).value)).toContain("locked");
  const started = performance.now();
  const res = await fetch(`${bin.adminUrl}/readyz`);
  expect({ status: res.status, body: await res.json() }).toEqual({ status: 503, body: { ok: false, store: "busy" } });
  expect(performance.now() - started).toBeLessThan(2_500);
  holder.stdin!.write("release\n");
  await holder.stdin!.end();
  expect(await holder.exited).toBe(0);
  await waitFor("/readyz 200 once the lock is released", async () => ((await fetch(`${bin.adminUrl}/readyz`)).status === 200 ? true : null), 25_000, 100);
});

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

test("garbage in the store file makes serve exit 1 with a clear message and leaves the file untouched", async () => {
  const dir = setup();
  mkdirSync(join(dir, "data"));
  const db = join(dir, "data/relay.db");
  writeFileSync(db, "this is not a database, it is a shopping list\n".repeat(200));
  const digest = sha(db);
  writeFileSync(join(dir, "hookrelay.toml"), relayToml({}));
  const r = await runBinary(["serve", "--config", "hookrelay.toml"], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cannot open the store: ${db}: store file is corrupt or not a database`);
  expect(r.stderr).not.toContain('"msg":"listening"');
  expect(sha(db)).toBe(digest);
  expect(readdirSync(join(dir, "data")).filter((f) => !f.startsWith("relay.db"))).toEqual([]);
});

test("a store file cut in half is refused at start, never replaced by a new empty store", async () => {
  const dir = setup();
  const db = join(dir, "data/relay.db");
  writeFileSync(join(dir, "hookrelay.toml"), relayToml({}));
  const bin = track(await serveBinary(dir, relayToml({})));
  for (let i = 0; i < 60; i++) expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: `c${i}`, pad: "y".repeat(4000) }))).status).toBe(200);
  expect(await bin.stop()).toBe(0);
  const size = statSync(db).size;
  copyFileSync(db, `${db}.orig`);
  truncateSync(db, Math.floor(size / 2));
  const r = await runBinary(["serve", "--config", "hookrelay.toml"], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("corrupt or not a database");
  expect(statSync(db).size).toBe(Math.floor(size / 2));
});

test("a directory where the store file should be makes serve exit 1 and says so", async () => {
  const dir = setup();
  mkdirSync(join(dir, "data/relay.db"), { recursive: true });
  writeFileSync(join(dir, "hookrelay.toml"), relayToml({}));
  const r = await runBinary(["serve", "--config", "hookrelay.toml"], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cannot open the store: ${join(dir, "data/relay.db")} is not a regular file (a directory?)`);
  expect(statSync(join(dir, "data/relay.db")).isDirectory()).toBe(true);
});

test.skipIf(cannotDropPrivileges !== null)("a store file another user owns (created by root, served as the service's user) makes serve exit 1 saying whose it is", async () => {
  const dir = setup();
  chmodSync(dir, 0o755);
  const db = join(dir, "data/relay.db");
  await (await openStoreFile(db)).close();
  chmodSync(join(dir, "data"), 0o777);
  writeFileSync(join(dir, "hookrelay.toml"), relayToml({}));
  const { code, stdout, stderr } = await serveAsNobody(dir);
  const nobody = Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString());
  expect(code).toBe(1);
  expect(stdout).toBe("");
  expect(stderr.split("\n")[0]).toBe(`hookrelay: cannot open the store: ${db}: permission denied: the relay runs as uid ${nobody}, the file is uid 0's, mode 0600 (chown it to the relay's user)`);
  expect(stderr).not.toContain('"msg":"listening"');
});
