/**
 * Which online copy holds a serving relay's writer less (by hand):
 *
 *   bun bench/backup.ts [dist/hookrelay]
 *
 * Starts the binary on a fresh store, fills it for BENCH_SEED_S (10) seconds
 * with 8 KiB events from 8 senders, then, while 4 senders keep ingesting,
 * copies the store three ways, one after the other:
 *   - `hookrelay backup` (VACUUM INTO: one read snapshot),
 *   - SQLite's online backup API in steps of 100 pages (what the sqlite3
 *     shell's .backup does), through Python's sqlite3 module, capped at 30 s,
 *   - the backup API in one step (pages = -1).
 * For each: how long it took, whether it finished, how many times the stepped
 * copy started over (a write by another connection between two steps restarts
 * it), and the ack latency (p99, max) of the requests answered meanwhile,
 * beside the same figures with no copy running. Needs python3.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const BIN = resolve(process.argv[2] ?? "dist/hookrelay");
const SEED_S = Number(process.env.BENCH_SEED_S ?? 10);
const SECRET = "whsec_bench";
const dir = mkdtempSync(join(tmpdir(), "hookrelay-bench-backup-"));
const cfg = join(dir, "hookrelay.toml");
writeFileSync(cfg, `[server]\nlisten = "127.0.0.1:0"\nadmin_listen = "127.0.0.1:0"\n[store]\nurl = "file:./relay.db"\n[[sources]]\nname = "s"\nverify = { preset = "ploints", secret = "${SECRET}" }\n`);

// The relay logs a line per request: to a file, so that a full pipe never holds it up.
const relay = Bun.spawn([BIN, "serve", "--config", cfg], { cwd: dir, stdout: "ignore", stderr: Bun.file(join(dir, "relay.log")) });
let publicUrl = "";
for (let i = 0; i < 150 && !publicUrl; i++) {
  await Bun.sleep(100);
  const line = (await Bun.file(join(dir, "relay.log")).text().catch(() => "")).split("\n").find((l) => l.includes('"msg":"listening"'));
  if (line) publicUrl = `http://${(JSON.parse(line) as { public: string }).public}`;
}
const pad = "x".repeat(8 * 1024);
let seq = 0;
function stream(workers: number) {
  const acks: { ms: number; at: number }[] = [];
  let stopping = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      const body = JSON.stringify({ id: `e${++seq}`, pad });
      const t0 = performance.now();
      const res = await fetch(`${publicUrl}/in/s`, { method: "POST", body, headers: { "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex") } });
      await res.arrayBuffer();
      acks.push({ ms: performance.now() - t0, at: performance.now() });
    }
  });
  return { acks, stop: async () => ((stopping = true), await Promise.all(loops)) };
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `n=${s.length} p99=${(s[Math.floor(s.length * 0.99)] ?? 0).toFixed(1)} ms max=${(s.at(-1) ?? 0).toFixed(1)} ms`;
};

const seed = stream(8);
await Bun.sleep(SEED_S * 1000);
await seed.stop();
console.log(`seeded ${seed.acks.length} events (${((seed.acks.length * 8.3) / 1024).toFixed(0)} MiB of bodies)`);

const PY_BACKUP = `
import sqlite3, sys, time
src = sqlite3.connect(sys.argv[1], timeout=5); dst = sqlite3.connect(sys.argv[2])
pages = int(sys.argv[3]); restarts = 0; last = None; t0 = time.time(); done = True
def progress(status, remaining, total):
    global restarts, last
    if last is not None and remaining > last: restarts += 1
    last = remaining
    if time.time() - t0 > 30: raise KeyboardInterrupt
try:
    src.backup(dst, pages=pages, progress=progress, sleep=0.01)
except KeyboardInterrupt:
    done = False
print(f"finished={done} restarts={restarts}")
`;

async function during(name: string, copy: () => Promise<string>) {
  const s = stream(4);
  await Bun.sleep(500);
  const t0 = performance.now();
  const what = await copy();
  const t1 = performance.now();
  await Bun.sleep(300);
  await s.stop();
  const inWindow = s.acks.filter((a) => a.at > t0 && a.at - a.ms < t1).map((a) => a.ms);
  console.log(`${name}: ${Math.round(t1 - t0)} ms ${what.trim()}; acks meanwhile ${stats(inWindow)}`);
}
const run = async (cmd: string[]) => {
  const p = Bun.spawn(cmd, { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text()]);
  await p.exited;
  return out + err;
};

const quiet = stream(4);
await Bun.sleep(3000);
await quiet.stop();
console.log(`no copy: acks ${stats(quiet.acks.map((a) => a.ms))}`);
await during("hookrelay backup (VACUUM INTO)", () => run([BIN, "backup", "--config", cfg, "--to", "vacuum.db"]));
await during("backup API, 100 pages a step", () => run(["python3", "-c", PY_BACKUP, join(dir, "relay.db"), join(dir, "stepped.db"), "100"]));
await during("backup API, one step", () => run(["python3", "-c", PY_BACKUP, join(dir, "relay.db"), join(dir, "onestep.db"), "-1"]));
relay.kill("SIGTERM");
await relay.exited;
rmSync(dir, { recursive: true, force: true });
