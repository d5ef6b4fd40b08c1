/**
 * The compiled binary delivering for real: killed with SIGKILL while attempts
 * are in flight and retries pending, then restarted, it still gets every
 * stored event to the target (at least once); and two `serve` processes on
 * one SQLite file share a batch without attempting one event at once.
 */
import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const SIGNING = `whsec_${Buffer.from("binary-delivery-signing-key-32by").toString("base64")}`;
const SOURCE_SECRET = "whsec_source";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hit {
  id: string;
  status: number;
  attempt: number;
  at: number;
  doneAt: number;
}

/** A recording target; `reply` decides status and delay per request. */
function target(reply: (hit: Hit, n: number) => { status: number; delayMs: number }) {
  const hits: Hit[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const body = Buffer.from(await req.arrayBuffer());
      const headers = Object.fromEntries(req.headers);
      new Webhook(SIGNING).verify(body, headers); // throws → 500 → the test sees a missing hit
      const hit = { id: headers["webhook-id"]!, status: 0, attempt: Number(headers["hookrelay-attempt"]), at: performance.now(), doneAt: 0 };
      hits.push(hit);
      const r = reply(hit, hits.length);
      hit.status = r.status;
      if (r.delayMs > 0) await Bun.sleep(r.delayMs);
      hit.doneAt = performance.now();
      return new Response("ok", { status: r.status });
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}/hooks`, hits };
}

function writeConfig(dir: string, targetUrl: string, extra = ""): string {
  const file = join(dir, "hookrelay.toml");
  writeFileSync(
    file,
    `log_level = "info"
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${SOURCE_SECRET}" }
[[targets]]
name = "app"
url = "${targetUrl}"
signing = { secret = "${SIGNING}" }
timeout = "1s"
retry = { schedule = ["0s", "1s", "1s", "1s", "1s", "1s"], jitter = 0 }
${extra}
[[routes]]
from = "ploints"
to = ["app"]
`,
  );
  return file;
}

async function post(relay: RunningBinary, i: number): Promise<string> {
  const body = `{"id":"evt_${i}","type":"points.earned","note":"ë ✓"}\n`;
  const res = await fetch(`${relay.publicUrl}/in/ploints`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-ploints-signature": createHmac("sha256", SOURCE_SECRET).update(body).digest("hex") },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

/** Resolves when `done()` holds, checking every 50 ms, or fails after `ms`. */
async function waitFor(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

test("a relay killed with SIGKILL mid-delivery delivers every stored event after restart", async () => {
  const tmp = tempDir("hookrelay-crash-");
  cleanups.push(() => tmp.remove());
  // Before the crash: slow replies (attempts in flight) and every other one a 500 (retries pending).
  let crashed = false;
  const t = target((_h, n) => (crashed ? { status: 200, delayMs: 0 } : { status: n % 2 ? 500 : 200, delayMs: 400 }));
  const config = writeConfig(tmp.dir, t.url, "concurrency = 4");
  const first = await startBinary(["serve", "--config", config], tmp.dir);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push(await post(first, i));
  await waitFor(() => t.hits.length >= 6, 10_000, "some attempts before the crash");
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  crashed = true;
  const accepted = () => new Set(t.hits.filter((h) => h.status === 200 && h.doneAt > 0).map((h) => h.id));
  expect(accepted().size).toBeLessThan(ids.length);

  const second = await startBinary(["serve", "--config", config], tmp.dir);
  cleanups.push(() => second.stop());
  // Expired leases come back after timeout + margin (1 s + 5 s); retries follow their schedule.
  await waitFor(() => accepted().size === ids.length, 30_000, "every event accepted by the target");
  expect(await second.stop()).toBe(0);
  const unique = new Set(t.hits.map((h) => h.id));
  expect([...unique].sort()).toEqual([...ids].sort());
}, 60_000);

test("two serve processes on one SQLite file deliver a batch, each event once and never twice at the same time", async () => {
  const tmp = tempDir("hookrelay-two-");
  cleanups.push(() => tmp.remove());
  const t = target(() => ({ status: 200, delayMs: 20 }));
  const config = writeConfig(tmp.dir, t.url, "concurrency = 4");
  const a = await startBinary(["serve", "--config", config], tmp.dir);
  cleanups.push(() => a.stop());
  const b = await startBinary(["serve", "--config", config], tmp.dir);
  cleanups.push(() => b.stop());
  const ids: string[] = [];
  // Half the events arrive at each process, so both have work of their own to start.
  for (let i = 0; i < 80; i++) ids.push(await post(i % 2 ? a : b, i));
  await waitFor(() => new Set(t.hits.filter((h) => h.doneAt > 0).map((h) => h.id)).size >= ids.length, 30_000, "every event delivered");
  expect(await a.stop()).toBe(0);
  expect(await b.stop()).toBe(0);

  expect(t.hits.map((h) => h.id).sort()).toEqual([...ids].sort());
  // No event overlapped itself, and concurrency = 4 held across both processes.
  const edges = t.hits.flatMap((h) => [[h.at, 1], [h.doneAt, -1]] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let maxOpen = 0;
  for (const [, d] of edges) maxOpen = Math.max(maxOpen, (open += d));
  expect(maxOpen).toBeLessThanOrEqual(4);
  const delivered = (logs: string) => logs.split("\n").filter((l) => l.includes('"msg":"delivered"')).length;
  expect(delivered(a.logs())).toBeGreaterThan(0);
  expect(delivered(b.logs())).toBeGreaterThan(0);
  expect(delivered(a.logs()) + delivered(b.logs())).toBe(ids.length);
}, 60_000);
