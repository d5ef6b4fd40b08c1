import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openConnection, openWriteConnection, type StoreConnection, type WriteClient } from "./client.ts";
import { classifyStoreError } from "./errors.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

/** The writer's cached client and @libsql/client on the same fresh file. */
async function bothClients(): Promise<{ cached: WriteClient; driver: StoreConnection }> {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-client-"));
  const url = `file:${join(dir, "t.db")}`;
  const driver = await openConnection({ url, busyTimeoutMs: 1000 });
  const cached = await openWriteConnection({ url, busyTimeoutMs: 1000 });
  cleanups.push(() => {
    cached.close();
    driver.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await driver.client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER, b BLOB)");
  return { cached: cached.client, driver };
}

const SELECT = "SELECT id, name, n, b, name AS id2, n AS name FROM t ORDER BY id";

test("the writer's cached client answers with the same result shape as @libsql/client", async () => {
  const { cached, driver } = await bothClients();
  const ins = await cached.execute({ sql: "INSERT INTO t (name, n, b) VALUES (?, ?, ?), (?, ?, ?)", args: ["a", 7, new Uint8Array([1, 2, 3]), "b", null, null] });
  expect(ins.rowsAffected).toBe(2);
  expect(ins.lastInsertRowid).toBe(2n);
  const mine = await cached.execute(SELECT);
  const theirs = await driver.client.execute(SELECT);
  expect(mine.columns).toEqual(theirs.columns);
  expect(mine.columnTypes).toEqual(theirs.columnTypes);
  expect(mine.rows.length).toBe(2);
  for (let r = 0; r < 2; r++) {
    const [a, b] = [mine.rows[r]!, theirs.rows[r]!];
    expect(a.length).toBe(b.length);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect({ ...a }).toEqual({ ...b });
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  }
  // A repeated column name answers with its first occurrence; integers are numbers, blobs ArrayBuffers.
  expect(mine.rows[0]!.name).toBe("a");
  expect(typeof mine.rows[0]!.id).toBe("number");
  expect(new Uint8Array(mine.rows[0]!.b as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
  const ret = await cached.execute({ sql: "UPDATE t SET n = :n WHERE name = :name RETURNING id", args: { ":n": 9, name: "b" } });
  expect(ret.rows.map((r) => r.id)).toEqual([2]);
  expect(ret.rowsAffected).toBe((await driver.client.execute({ sql: "UPDATE t SET n = 9 WHERE name = 'b' RETURNING id", args: [] })).rowsAffected);
});

test("a statement is prepared once and reused with new arguments", async () => {
  const { cached } = await bothClients();
  for (let i = 0; i < 300; i++) await cached.execute({ sql: "INSERT INTO t (name, n) VALUES (?, ?)", args: [`k${i}`, i] });
  // More distinct texts than the cache holds: the oldest are dropped and prepared again.
  for (let i = 0; i < 300; i++) expect((await cached.execute(`SELECT n FROM t WHERE name = 'k${i}'`)).rows[0]!.n).toBe(i);
  expect((await cached.execute("SELECT count(*) AS c FROM t")).rows[0]!.c).toBe(300);
});

test("errors carry the driver's codes, and the failed statement works again afterwards", async () => {
  const { cached } = await bothClients();
  const sql = "INSERT INTO t (name) VALUES (?)";
  await cached.execute({ sql, args: ["x"] });
  const err = await cached.execute({ sql, args: ["x"] }).catch((e: unknown) => e);
  expect((err as { code?: string }).code).toBe("SQLITE_CONSTRAINT");
  expect(classifyStoreError(err).code).toBe("unavailable");
  expect((await cached.execute({ sql, args: ["y"] })).rowsAffected).toBe(1);
});

test("a transaction commits or rolls back as a whole, and a batch is one transaction", async () => {
  const { cached, driver } = await bothClients();
  const tx = await cached.transaction("write");
  await tx.execute({ sql: "INSERT INTO t (name) VALUES (?)", args: ["kept"] });
  await tx.commit();
  const dropped = await cached.transaction("write");
  await dropped.execute({ sql: "INSERT INTO t (name) VALUES (?)", args: ["dropped"] });
  dropped.close();
  await expect(dropped.execute({ sql: "SELECT 1", args: [] })).rejects.toThrow(/closed/);
  const failed = await cached
    .batch([{ sql: "INSERT INTO t (name) VALUES (?)", args: ["half"] }, { sql: "INSERT INTO t (name) VALUES (?)", args: ["kept"] }], "write")
    .catch((e: unknown) => e);
  expect((failed as { code?: string }).code).toBe("SQLITE_CONSTRAINT");
  const results = await cached.batch([{ sql: "INSERT INTO t (name) VALUES (?)", args: ["b1"] }, "SELECT count(*) AS c FROM t"], "write");
  expect(results[1]!.rows[0]!.c).toBe(2);
  const names = (await driver.client.execute("SELECT name FROM t ORDER BY id")).rows.map((r) => r.name);
  expect(names).toEqual(["kept", "b1"]);
});
