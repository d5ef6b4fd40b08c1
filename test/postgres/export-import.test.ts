/**
 * Moving a store between the embedded file and PostgreSQL with the compiled
 * binary: export a file, import it into a database, export the database and
 * import that into a new file. Events keep their ids and exact body bytes,
 * deliveries their state and attempts, both ways.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseExportLine, type ExportedEvent } from "../../src/core/export-line.ts";
import { makeId } from "../../src/core/ids.ts";
import { openStore, openStoreReader } from "../../src/store/index.ts";
import { BINARY, runBinary, startBinary } from "../support/binary.ts";
import { createDatabase } from "../support/pg-cluster.ts";
import { writePlointsConfig } from "../support/ploints-config.ts";
import { tempDir } from "../support/relay.ts";
import { onPostgres } from "../support/test-store.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDir("hookrelay-pg-transfer-");
const dbs: { drop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const db of dbs) await db.drop();
  tmp.remove();
});

const SECRET = "whsec_pg_transfer";
const run = (args: string[]) => runBinary(args, tmp.dir);
const retry = 'retry = { schedule = ["0s", "1h"], jitter = 0 }';

function exported(file: string): ExportedEvent[] {
  return readFileSync(join(tmp.dir, file), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => {
      const p = parseExportLine(l);
      return p.ok ? p.event : expect.unreachable(p.reason);
    });
}

/** What a move keeps of an event exactly (an open delivery is due again at its import: its lease was the old store's). */
function kept(e: ExportedEvent) {
  return {
    ...e,
    deliveries: e.deliveries.map((d) => (d.status === "pending" ? { ...d, nextAttemptAt: 0, updatedAt: 0 } : d)),
  };
}

// Bytes that are not UTF-8 (and a NUL): a bytea column must give back exactly these.
const BINARY_BODY = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x7b, 0x0a]);

describe.skipIf(!onPostgres)("on PostgreSQL (runs in the PostgreSQL half of the matrix: bun scripts/test-postgres.ts)", () => {
  test("export → import moves a store from a file to PostgreSQL and back: ids, exact body bytes, deliveries and attempts", async () => {
    const base = process.env.HOOKRELAY_TEST_PG_URL!;
    const db = await createDatabase(base.endsWith("/") ? base : `${base}/`, "transfer");
    dbs.push(db);
    const received: string[] = [];
    const target = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = await req.text();
        received.push(body);
        return new Response("", { status: body.includes("fail") ? 500 : 200 });
      },
    });
    try {
      const onFile = writePlointsConfig({ dir: tmp.dir, name: "file", db: "file.db", secret: SECRET, targetPort: target.port!, extraTarget: retry });
      const relay = await startBinary(["serve", "--config", onFile], tmp.dir);
      const bodies: (string | Uint8Array)[] = ['{"id":"e1","type":"points.earned"}', BINARY_BODY, '{"id":"e3","type":"fail"}', "x".repeat(300_000)];
      for (const body of bodies) {
        const res = await fetch(`${relay.publicUrl}/in/ploints`, {
          method: "POST",
          body: body as BodyInit,
          headers: { "content-type": "application/octet-stream", "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex") },
        });
        expect(res.status).toBe(200);
      }
      await waitFor("every first attempt", () => received.length >= 4);
      expect(await relay.stop()).toBe(0);
      expect(await run(["export", "--config", onFile, "--out", "from-file.ndjson"])).toMatchObject({ code: 0 });
      const fromFile = exported("from-file.ndjson");
      expect(fromFile).toHaveLength(4);
      expect(fromFile[2]!.deliveries[0]).toMatchObject({ status: "pending", attempts: [{ statusCode: 500 }] });

      const onPg = writePlointsConfig({ dir: tmp.dir, name: "pg", db: "unused.db", secret: SECRET, targetPort: target.port!, extraTarget: retry, storeUrl: db.url });
      const intoPg = await run(["import", "--config", onPg, "from-file.ndjson"]);
      expect(intoPg).toMatchObject({ code: 0, out: "imported 4, skipped 0, bad lines 0\n" });
      expect((await run(["import", "--config", onPg, "from-file.ndjson"])).out).toBe("imported 0, skipped 4, bad lines 0\n");
      expect(await run(["export", "--config", onPg, "--out", "from-pg.ndjson"])).toMatchObject({ code: 0 });
      let fromPg = exported("from-pg.ndjson");
      expect(fromPg.map(kept)).toEqual(fromFile.map(kept));
      expect(fromPg[1]!.request.body).toEqual(BINARY_BODY);
      expect(fromPg[3]!.request.body!.length).toBe(300_000);

      // A provider retrying an event across the move is still a duplicate on PostgreSQL: its dedupe key came along.
      const store = await openStore({ url: db.url, busyTimeoutMs: 1000, nowMs: Date.now });
      try {
        const e1 = fromFile[0]!;
        const again = await store.writer.submit({
          ...e1.request,
          id: makeId("evt", Date.now(), crypto.getRandomValues(new Uint8Array(10))),
          source: e1.source,
          eventType: e1.eventType,
          dedupeKey: e1.dedupeKey,
          dedupeWindowMs: 7 * 86_400_000,
          receivedAt: Date.now(),
          headers: e1.request.headers ?? [],
          body: e1.request.body!,
          deliveries: [],
        });
        expect(again).toEqual({ kind: "duplicate", id: e1.id });
        // The source's counters came along with its events (once: the second import stored nothing), and counted the duplicate.
        const counters = await store.reads.execute("SELECT source, received, duplicates FROM source_counters");
        expect(counters.rows.map((r) => [r.source, Number(r.received), Number(r.duplicates)])).toEqual([["ploints", 4, 1]]);
      } finally {
        await store.close();
      }
      expect(await run(["export", "--config", onPg, "--out", "from-pg.ndjson", "--force"])).toMatchObject({ code: 0 });
      fromPg = exported("from-pg.ndjson");
      expect(fromPg[0]!.duplicates).toBe(1);
      expect(fromPg.map(kept)).toEqual(fromFile.map((e, i) => kept(i === 0 ? { ...e, duplicates: 1, lastDuplicateAt: fromPg[0]!.lastDuplicateAt } : e)));

      const backOnFile = writePlointsConfig({ dir: tmp.dir, name: "back", db: "back.db", secret: SECRET, targetPort: target.port!, extraTarget: retry });
      expect((await run(["import", "--config", backOnFile, "from-pg.ndjson"])).out).toBe("imported 4, skipped 0, bad lines 0\n");
      expect(await run(["export", "--config", backOnFile, "--out", "back.ndjson"])).toMatchObject({ code: 0 });
      expect(exported("back.ndjson").map(kept)).toEqual(fromPg.map(kept));
      expect(readFileSync(join(tmp.dir, "back.ndjson"), "utf8").split("\n").map((l) => l.replace(/"(nextAttemptAt|updatedAt)":"[^"]*"/g, ""))).toEqual(
        readFileSync(join(tmp.dir, "from-pg.ndjson"), "utf8").split("\n").map((l) => l.replace(/"(nextAttemptAt|updatedAt)":"[^"]*"/g, "")),
      );
    } finally {
      target.stop(true);
    }
  }, 60_000);

  test("the database the url names is the one used, whatever PGDATABASE says (Bun's client would let it win)", async () => {
    const base = process.env.HOOKRELAY_TEST_PG_URL!;
    const db = await createDatabase(base.endsWith("/") ? base : `${base}/`, "named");
    dbs.push(db);
    const cfg = writePlointsConfig({ dir: tmp.dir, name: "named", db: "unused.db", secret: SECRET, targetPort: 9, storeUrl: db.url });
    const p = Bun.spawn([BINARY, "import", "--config", cfg, "from-file.ndjson"], { cwd: tmp.dir, env: { PATH: process.env.PATH ?? "", PGDATABASE: "postgres" }, stdout: "pipe", stderr: "pipe" });
    expect(await new Response(p.stdout).text()).toBe("imported 4, skipped 0, bad lines 0\n");
    expect(await p.exited).toBe(0);
    const store = await openStoreReader({ url: db.url, busyTimeoutMs: 1000 });
    try {
      expect((await store.reads.execute("SELECT count(*) AS n FROM events")).rows[0]!.n).toBe(4);
    } finally {
      store.close();
    }
  });

  test("a relay's connections are named hookrelay unless the url names them (application_name=relay-a)", async () => {
    const base = process.env.HOOKRELAY_TEST_PG_URL!;
    const url = `${base.endsWith("/") ? base : `${base}/`}postgres`;
    const nameOf = async (u: string) => {
      const store = await openStoreReader({ url: u, busyTimeoutMs: 1000 });
      try {
        return (await store.reads.execute("SELECT current_setting('application_name') AS a")).rows[0]!.a;
      } finally {
        store.close();
      }
    };
    expect(await nameOf(url)).toBe("hookrelay");
    expect(await nameOf(`${url}?application_name=relay-a`)).toBe("relay-a");
  });

  test("backup refuses a PostgreSQL store and says to use pg_dump, without connecting or showing the password", async () => {
    const cfg = writePlointsConfig({ dir: tmp.dir, name: "backup", db: "unused.db", secret: SECRET, targetPort: 9, storeUrl: "postgres://hookrelay@127.0.0.1:9/nowhere", extraStore: 'password = "do-not-show-me"' });
    const r = await run(["backup", "--config", cfg, "--to", "copy.db"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("pg_dump");
    expect(r.err).not.toContain("do-not-show-me");
    expect(r.err).not.toContain("cannot open the store");
  });
});
