import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderMigrationsModule } from "../../scripts/embed-migrations.ts";

test("the embedded migrations are exactly drizzle-kit's generated ones (run `npm run db:generate` after a schema change)", () => {
  const embedded = readFileSync(join(import.meta.dir, "migrations.gen.ts"), "utf8");
  expect(embedded).toBe(renderMigrationsModule());
});

test("a store migrated by a newer build is refused by name, not written with a schema this build does not know", async () => {
  const { runCleanups, storeAt, storeUrlFor, tempDir } = await import("../../test/delivery/fixtures.ts");
  const { openStore } = await import("./index.ts");
  const cleanups: (() => void | Promise<void>)[] = [];
  try {
    const file = join(tempDir(cleanups), "s.db");
    const store = await storeAt(file, cleanups);
    await store.writer.write([{ sql: "INSERT INTO hookrelay_migrations (tag, applied_at) VALUES ('9999_from_the_future', 1)", args: [] }]);
    await runCleanups(cleanups.splice(0, 1));
    const url = await storeUrlFor(file, cleanups);
    const reopened = openStore({ url, busyTimeoutMs: 1000, nowMs: () => 0, checkpointEveryMs: 0 });
    await expect(reopened).rejects.toThrow(
      "the store was migrated by a newer hookrelay (9999_from_the_future, unknown to this build): run that build or a later one, or a backup taken before the upgrade",
    );
  } finally {
    await runCleanups(cleanups);
  }
});

test("a migration that fails says why (a full disk at an upgrade), and that nothing of it was applied", async () => {
  const { applyMigrations } = await import("./migrate.ts");
  const { sqliteDialect } = await import("./dialect.ts");
  const full = Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
  const odd = new Error("no such collation sequence: x");
  for (const [cause, why] of [[full, "store is full"], [odd, "store cannot be written: no such collation sequence: x"]] as const) {
    let statements = 0;
    const client = {
      dialect: sqliteDialect,
      execute: async () => ({ rows: [] }),
      transaction: async () => ({
        // The bookkeeping table and the first migration's lookup pass; its first statement fails.
        execute: async () => {
          if (++statements > 2) throw cause;
          return { rows: [] };
        },
        commit: async () => {},
        rollback: async () => {},
        close: () => {},
      }),
    } as unknown as Parameters<typeof applyMigrations>[0];
    await expect(applyMigrations(client, 0)).rejects.toThrow(`migration 0000_init failed (nothing of it was applied): ${why}`);
  }
});
