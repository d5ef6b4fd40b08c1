/**
 * The only file that names the database driver. Opens @libsql/client on an
 * embedded file (or a libSQL server URL), applies the per-connection PRAGMAs
 * and hands out a drizzle instance plus the raw client for the hot paths.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createClient, type Client, type InStatement, type ResultSet, type Transaction } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import * as schema from "./schema.ts";
import { classifyStoreError, StoreError } from "./errors.ts";

export type Db = LibSQLDatabase<typeof schema>;
export type { InStatement, ResultSet, Transaction };

export interface StoreConnection {
  client: Client;
  db: Db;
  /** True for an embedded file (PRAGMAs and checkpoints apply). */
  isFile: boolean;
  /** Absolute path of the embedded file, or null. */
  filePath: string | null;
  close(): void;
}

export interface OpenOptions {
  url: string;
  busyTimeoutMs: number;
  /** Fail instead of creating a new database file (used by `replay`). */
  mustExist?: boolean;
}

/** Splits `file:` URLs into an absolute path; other URLs pass through. */
export function filePathOf(url: string): string | null {
  if (url === ":memory:" || url === "file::memory:") return null;
  if (!url.startsWith("file:")) return null;
  const rest = url.slice("file:".length).replace(/^\/\/(localhost)?(?=\/)/, "");
  return resolve(rest.split("?")[0] ?? rest);
}

/** Opens the store and sets WAL, synchronous=FULL and a busy timeout on its one connection. */
export async function openConnection(opts: OpenOptions): Promise<StoreConnection> {
  const filePath = filePathOf(opts.url);
  const isFile = filePath !== null || opts.url.includes(":memory:");
  if (filePath) {
    if (opts.mustExist && !(await Bun.file(filePath).exists()))
      throw new StoreError("unavailable", `store file ${filePath} does not exist`);
    // SQLite's own error for a directory is "unable to open database file"; say what is wrong.
    if (existsSync(filePath) && !statSync(filePath).isFile())
      throw new StoreError("unavailable", `${filePath} is not a regular file (a directory?), so it cannot be the store`);
    try {
      mkdirSync(dirname(filePath), { recursive: true });
    } catch (cause) {
      throw new StoreError("unavailable", `cannot create the store directory ${dirname(filePath)}`, { cause });
    }
  }
  let client: Client;
  try {
    // One connection for an embedded file: the driver is synchronous under its
    // async API, so a pool adds no parallelism, and one connection means the
    // per-connection PRAGMAs below reach every statement we run.
    client = createClient({
      url: filePath ? `file:${filePath}` : opts.url,
      concurrency: isFile ? 1 : undefined,
      timeout: opts.busyTimeoutMs,
      authToken: undefined,
    });
  } catch (cause) {
    const err = classifyStoreError(cause);
    // A server URL may carry a token: name only a file path.
    throw new StoreError(err.code, `${filePath ?? "the store URL"}: ${err.message}`, { cause });
  }
  if (isFile) {
    try {
      await client.execute(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
      await client.execute("PRAGMA journal_mode = WAL");
      await client.execute("PRAGMA synchronous = FULL");
      // Checkpoints run from a timer between batches, never inside a request's commit.
      await client.execute("PRAGMA wal_autocheckpoint = 0");
      await client.execute("PRAGMA foreign_keys = ON");
    } catch (cause) {
      client.close();
      const err = classifyStoreError(cause);
      throw new StoreError(err.code, `${filePath ?? opts.url}: ${err.message}`, { cause });
    }
  }
  const db = drizzle(client, { schema });
  return { client, db, isFile, filePath, close: () => client.close() };
}
