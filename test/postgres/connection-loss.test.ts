/**
 * A relay whose PostgreSQL server goes away and comes back, with the compiled
 * binary against a cluster of its own (it stops that cluster, so it cannot
 * use the matrix's): ingest answers 503 with Retry-After and acks nothing,
 * /readyz says why it is not ready, the process keeps running and logs the
 * loss once and the return once, and once the server is back it ingests and
 * delivers again without a restart. A relay started while the server is
 * down exits 1 naming the URL without its password.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBinary, startBinary, type RunningBinary } from "../support/binary.ts";
import { createDatabase, startPgCluster, type PgCluster } from "../support/pg-cluster.ts";
import { tempDir } from "../support/relay.ts";
import { onPostgres } from "../support/test-store.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDir("hookrelay-pg-loss-");
let cluster: PgCluster | null = null;

beforeAll(async () => {
  if (onPostgres) cluster = await startPgCluster();
});
afterAll(async () => {
  await cluster?.stop();
  tmp.remove();
});

const PASSWORD = "db-password-never-shown";

function writeConfig(name: string, dbUrl: string, targetPort: number): string {
  const path = join(tmp.dir, `${name}.toml`);
  writeFileSync(
    path,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "${dbUrl}"
password = "${PASSWORD}"
[[sources]]
name = "p"
verify = { scheme = "none" }
[[targets]]
name = "app"
url = "http://127.0.0.1:${targetPort}/hooks"
retry = { schedule = ["0s", "1s"], jitter = 0 }
[[routes]]
from = "p"
to = ["app"]
`,
  );
  return path;
}

/** The JSON log lines whose msg is `msg`. */
const linesOf = (relay: RunningBinary, msg: string) =>
  relay
    .logs()
    .split("\n")
    .filter((l) => l.includes(`"msg":${JSON.stringify(msg)}`));

describe.skipIf(!onPostgres)("on PostgreSQL (runs in the PostgreSQL half of the matrix: bun scripts/test-postgres.ts)", () => {
  test("a relay that loses its database answers 503 + Retry-After, is not ready, logs it once, and ingests and delivers again once it is back", async () => {
    const db = await createDatabase(cluster!.baseUrl, "loss");
    const received: string[] = [];
    const target = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        received.push(await req.text());
        return new Response("ok");
      },
    });
    const relay = await startBinary(["serve", "--config", writeConfig("loss", db.url, target.port!)], tmp.dir);
    const post = (body: string) => fetch(`${relay.publicUrl}/in/p`, { method: "POST", body });
    try {
      expect((await post('{"n":"before"}')).status).toBe(200);
      await waitFor("the first delivery", () => received.includes('{"n":"before"}'));
      // Its outcome written (or not) before the window in which nothing may be logged starts.
      await waitFor("the first attempt's outcome", () => /"msg":"(delivered|could not record an attempt)"/.test(relay.logs()));
      expect((await fetch(`${relay.adminUrl}/readyz`)).status).toBe(200);

      const quietFrom = relay.logs().length;
      await cluster!.stopServer();
      // Every request while the server is away: refused for a retry, none acked.
      const during: Response[] = [];
      for (let i = 0; i < 5; i++) during.push(await post(`{"n":"during-${i}"}`));
      for (const r of during) {
        expect(r.status).toBe(503);
        expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(await r.json()).toMatchObject({ error: { code: "store_unavailable" } });
      }
      const ready = await fetch(`${relay.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ ok: false, store: "unreachable" });
      // The admin side says the same, not a 500; a scrape still gets the counters.
      const list = await fetch(`${relay.adminUrl}/api/events`);
      expect({ status: list.status, retryAfter: list.headers.get("retry-after") }).toEqual({ status: 503, retryAfter: "5" });
      expect(await list.json()).toMatchObject({ error: { code: "store_unavailable", message: "the store cannot answer now (unreachable); retry later" } });
      expect((await fetch(`${relay.adminUrl}/`)).status).toBe(503);
      const metrics = await fetch(`${relay.adminUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^hookrelay_refused_total\{code="store_unavailable"\} 5$/m);
      // Three poll rounds of the delivery loop (and whatever else runs) while it is away.
      await Bun.sleep(3000);
      expect(relay.proc.exitCode).toBeNull();
      expect(linesOf(relay, "lost the database")).toHaveLength(1);
      expect(linesOf(relay, "lost the database")[0]).toContain(`127.0.0.1:${cluster!.port}`);
      const storm = relay
        .logs()
        .slice(quietFrom)
        .split("\n")
        .filter((l) => /"level":"(warn|error)"/.test(l) && !l.includes('"msg":"lost the database"'));
      expect(storm).toEqual([]);

      await cluster!.startServer();
      await waitFor("ready again", async () => (await fetch(`${relay.adminUrl}/readyz`)).status === 200, 20_000);
      // The line may reach us a little after /readyz says so (logs are written a turn later, read from a pipe).
      await waitFor("the return logged", () => linesOf(relay, "the database is back").length > 0, 5_000);
      expect(linesOf(relay, "the database is back")).toHaveLength(1);
      expect((await post('{"n":"after"}')).status).toBe(200);
      await waitFor("the delivery after the return", () => received.includes('{"n":"after"}'), 15_000);
      // Nothing sent while it was away was stored: each was refused, for the sender to retry.
      expect(received.filter((b) => b.includes("during"))).toEqual([]);
      expect(relay.logs()).not.toContain(PASSWORD);
      expect(await relay.stop()).toBe(0);
    } finally {
      relay.proc.kill("SIGKILL");
      target.stop(true);
      if (cluster) await cluster.startServer().catch(() => {});
      await db.drop();
    }
  }, 60_000);

  test("a database that stops answering without closing its connections (frozen, a cut network) is answered 503 within the answer time, not with silence", async () => {
    const db = await createDatabase(cluster!.baseUrl, "frozen");
    // busy_timeout 1s: a write unanswered for 5 s (the floor of the answer time) means the server is gone.
    const cfg = writeConfig("frozen", db.url, 9);
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace(`password = "${PASSWORD}"`, `password = "${PASSWORD}"\nbusy_timeout = "1s"`));
    const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
    const post = (body: string) => fetch(`${relay.publicUrl}/in/p`, { method: "POST", body });
    try {
      expect((await post('{"n":"before"}')).status).toBe(200);
      cluster!.freeze();
      const started = performance.now();
      const during = await post('{"n":"during"}');
      const tookMs = performance.now() - started;
      expect(during.status).toBe(503);
      expect(during.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(tookMs).toBeLessThan(12_000);
      // Held back at once now, not after another wait.
      const next = performance.now();
      expect((await post('{"n":"during-2"}')).status).toBe(503);
      expect(performance.now() - next).toBeLessThan(1_000);
      const ready = await fetch(`${relay.adminUrl}/readyz`);
      expect(await ready.json()).toEqual({ ok: false, store: "unreachable" });
      await waitFor("the loss logged", () => linesOf(relay, "lost the database").length === 1, 10_000);
      cluster!.thaw();
      await waitFor("ready again", async () => (await fetch(`${relay.adminUrl}/readyz`)).status === 200, 20_000);
      expect((await post('{"n":"after"}')).status).toBe(200);
      expect(await relay.stop()).toBe(0);
    } finally {
      cluster!.thaw();
      relay.proc.kill("SIGKILL");
      await db.drop();
    }
  }, 60_000);

  test("a relay started while its database is down exits 1 naming the URL, never the password", async () => {
    const db = await createDatabase(cluster!.baseUrl, "down");
    const cfg = writeConfig("down", db.url, 9);
    await cluster!.stopServer();
    try {
      const r = await runBinary(["serve", "--config", cfg], tmp.dir);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`cannot open the store: cannot connect to postgres://postgres@127.0.0.1:${cluster!.port}/`);
      // Bun's own words ("Failed to connect") replaced by what a probe of the address found.
      expect(r.err).toContain(`nothing listens on 127.0.0.1:${cluster!.port} (connection refused`);
      expect(r.err + r.out).not.toContain(PASSWORD);
    } finally {
      await cluster!.startServer();
      await db.drop();
    }
  }, 30_000);
});
