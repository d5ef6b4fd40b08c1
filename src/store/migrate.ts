/**
 * Applies the embedded drizzle migrations at start, each in its own
 * transaction, recording applied tags so that every process on one store
 * agrees on the schema. On PostgreSQL, relays starting together take turns
 * (an advisory lock per transaction); on a file, SQLite's write lock does it.
 */
import type { WriteClient } from "./client.ts";
import { migrations as sqliteMigrations, pgMigrations } from "./migrations.gen.ts";
import { classifyStoreError, StoreError } from "./errors.ts";
import type { Logger } from "../log/logger.ts";

const BREAKPOINT = "--> statement-breakpoint";
/** The advisory lock relays take while migrating one PostgreSQL database. */
const MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(6835314)";

type MigrationClient = Pick<WriteClient, "execute" | "transaction" | "dialect">;

/**
 * Brings the store's schema up to date; returns the tags it applied. With
 * `refuse`, a store that needs any is refused instead, unchanged (a dry run
 * must not lock an older build out of the store it only looked at).
 */
export async function applyMigrations(client: MigrationClient, nowMs: number, mode: "apply" | "refuse" = "apply"): Promise<string[]> {
  const pg = client.dialect.engine === "postgres";
  const migrations = pg ? pgMigrations : sqliteMigrations;
  try {
    const tx = await client.transaction("write");
    try {
      if (pg) await tx.execute(MIGRATION_LOCK);
      await tx.execute(`CREATE TABLE IF NOT EXISTS hookrelay_migrations (tag TEXT PRIMARY KEY, applied_at ${pg ? "BIGINT" : "INTEGER"} NOT NULL)`);
      await tx.commit();
    } finally {
      tx.close();
    }
  } catch (cause) {
    const err = classifyStoreError(cause);
    throw new StoreError(err.code, `cannot prepare the store: ${err.message}`, { cause });
  }
  const applied = new Set(
    (await client.execute("SELECT tag FROM hookrelay_migrations")).rows.map((r) => String(r.tag)),
  );
  // A newer build migrated this store: an older one would write rows that schema does not expect.
  const known = new Set(migrations.map((m) => m.tag));
  const newer = [...applied].filter((tag) => !known.has(tag)).sort();
  if (newer.length > 0) {
    throw new StoreError(
      "invalid",
      `the store was migrated by a newer hookrelay (${newer.join(", ")}, unknown to this build): run that build or a later one, or a backup taken before the upgrade`,
    );
  }
  const pending = migrations.filter((m) => !applied.has(m.tag)).map((m) => m.tag);
  if (mode === "refuse" && pending.length > 0) {
    throw new StoreError(
      "invalid",
      `the store's schema is older than this build (${pending.join(", ")} to apply), and this command changes nothing: start the relay (or run the command without --dry-run) to update it first`,
    );
  }
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.tag)) continue;
    const statements = m.sql
      .split(BREAKPOINT)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const tx = await client.transaction("write");
    try {
      if (pg) await tx.execute(MIGRATION_LOCK);
      // Another process may have applied it between our read and our lock.
      const again = await tx.execute({ sql: "SELECT 1 FROM hookrelay_migrations WHERE tag = ?", args: [m.tag] });
      if (again.rows.length === 0) {
        for (const s of statements) await tx.execute(s);
        await tx.execute({ sql: "INSERT INTO hookrelay_migrations (tag, applied_at) VALUES (?, ?)", args: [m.tag, nowMs] });
        done.push(m.tag);
      }
      await tx.commit();
    } catch (cause) {
      tx.close();
      // Say why (a full disk is the likely one at an upgrade): the driver's own words when ours are generic.
      const err = classifyStoreError(cause);
      const why = err.code === "unavailable" || err.code === "invalid" ? `${err.message}: ${(cause as Error).message ?? cause}` : err.message;
      throw new StoreError(err.code, `migration ${m.tag} failed (nothing of it was applied): ${why}`, { cause });
    }
  }
  return done;
}

/**
 * Says what `applyMigrations` did, when it did anything: a new store (every
 * migration applied, the first included: a relay started from the wrong
 * directory or with a mistyped path says so at once), or an upgraded one.
 */
export function logMigrations(log: Logger | undefined, store: string, applied: string[]): void {
  if (!log || applied.length === 0) return;
  if (applied.includes(sqliteMigrations[0]!.tag) || applied.includes(pgMigrations[0]!.tag)) log.info(NEW_STORE_CREATED, { store });
  else log.info(STORE_SCHEMA_UPDATED, { store, migrations: applied });
}

/** The two lines logMigrations writes (cli/store-notices.ts says them in a command's words). */
export const NEW_STORE_CREATED = "new store created";
export const STORE_SCHEMA_UPDATED = "store schema updated";
