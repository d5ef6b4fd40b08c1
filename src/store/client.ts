/**
 * The only file that names the database driver. Opens @libsql/client on an
 * embedded file (or a libSQL server URL), applies the per-connection PRAGMAs
 * and hands out a drizzle instance plus the raw client for the hot paths.
 * The writer thread's connection (openWriteConnection) is a thinner client
 * over the `libsql` package itself that keeps its prepared statements.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  createClient,
  LibsqlError,
  type Client,
  type InArgs,
  type InStatement,
  type InValue,
  type ResultSet,
  type Row,
  type Transaction,
  type TransactionMode,
} from "@libsql/client";
import Database from "libsql";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import * as schema from "./schema.ts";
import { classifyStoreError, StoreError, type StoreErrorCode } from "./errors.ts";
import { rowBuilder } from "./result-rows.ts";
import { sqliteDialect, type Dialect } from "./dialect.ts";

export type Db = LibSQLDatabase<typeof schema>;
export type { InStatement, ResultSet, Transaction };

export interface StoreConnection {
  /** @libsql/client, marked with its dialect so that it serves as a door (sql-client.ts). */
  client: Client & { readonly dialect: Dialect };
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
      // The store holds every raw request: only our user may read it. SQLite
      // creates files 0644, and its -wal/-shm copy the database file's mode.
      mkdirSync(dirname(filePath), { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new StoreError(fsErrorCode(cause), `cannot create the store directory ${dirname(filePath)} (${fsReason(cause)})`, { cause });
    }
    createPrivateFile(filePath);
    assertOurs(filePath);
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
      await applyConnectionPragmas(client, opts.busyTimeoutMs);
    } catch (cause) {
      client.close();
      const err = classifyStoreError(cause);
      const why = err.code === "readonly" && filePath ? ` (${readOnlyCause(filePath)})` : "";
      throw new StoreError(err.code, `${filePath ?? opts.url}: ${err.message}${why}`, { cause });
    }
  }
  const db = drizzle(client, { schema });
  return { client: Object.assign(client, { dialect: sqliteDialect }), db, isFile, filePath, close: () => client.close() };
}

/** Creates `path` empty with mode 0600 unless it exists (an empty file is an empty SQLite database). */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", 0o600));
  } catch (cause) {
    // Already there: an existing store keeps its mode.
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") return;
    const code = fsErrorCode(cause);
    throw new StoreError(code, `${path}: ${code === "readonly" ? `store is read-only (${readOnlyCause(path)})` : `cannot create the store (${fsReason(cause)})`}`, { cause });
  }
}

/**
 * A store file this process may not read and write: say whose it is, not
 * SQLite's "unable to open database file" (a store created by root, the
 * service then run as its own user).
 */
function assertOurs(path: string): void {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (cause) {
    // A read-only file system is said as such where the connection finds it (readOnlyCause).
    if ((cause as NodeJS.ErrnoException).code === "EROFS") return;
    const st = statSync(path);
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    const who = process.getuid ? ` as uid ${process.getuid()}` : "";
    throw new StoreError(fsErrorCode(cause), `${path}: ${fsReason(cause)}: the relay runs${who}, the file is uid ${st.uid}'s, mode ${mode} (chown it to the relay's user)`, { cause });
  }
}

/** A failed file operation as a StoreError code. */
function fsErrorCode(err: unknown): StoreErrorCode {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EROFS" || code === "EACCES" || code === "EPERM" ? "readonly" : code === "ENOSPC" ? "full" : "unavailable";
}

/** A failed file operation in a few words: "read-only file system", "permission denied", … */
function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = { EROFS: "read-only file system", EACCES: "permission denied", EPERM: "permission denied", ENOSPC: "no space left" };
  return words[e.code ?? ""] ?? e.code ?? e.message;
}

/** Why an existing store at `filePath` cannot be written: its filesystem, or the permissions on it or its directory. */
export function readOnlyCause(filePath: string): string {
  for (const path of existsSync(filePath) ? [filePath, dirname(filePath)] : [dirname(filePath)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      const reason = fsReason(err);
      return reason === "read-only file system" ? reason : `${reason} on ${path}`;
    }
  }
  return "the file or its directory cannot be written";
}

/** The per-connection settings every embedded-file connection of ours gets. */
async function applyConnectionPragmas(client: { execute(sql: string): Promise<unknown> }, busyTimeoutMs: number): Promise<void> {
  await client.execute(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute("PRAGMA synchronous = FULL");
  // Checkpoints run on the checkpoint worker's connection, never inside a request's commit.
  await client.execute("PRAGMA wal_autocheckpoint = 0");
  await client.execute("PRAGMA foreign_keys = ON");
  // What a delete or an erase frees is overwritten with zeros, not left readable in free space: an
  // erased body, a purged event's request stayed in the file (`strings` found them) until reused.
  await client.execute("PRAGMA secure_delete = ON");
}

/** The part of a client the writer thread uses: statements, batches and one open transaction at a time. */
export interface WriteClient {
  readonly dialect: Dialect;
  readonly closed: boolean;
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  batch(stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]>;
  transaction(mode?: TransactionMode): Promise<WriteTransaction>;
  close(): void;
}

/** An open transaction of a WriteClient. */
export interface WriteTransaction {
  execute(stmt: InStatement): Promise<ResultSet>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): void;
}

/**
 * Opens the writer thread's connection. For an embedded file this is a
 * {@link CachedClient}: @libsql/client prepares every statement again on every
 * call (~14 % of the writer's profile), while the writer runs the same few
 * statements thousands of times. Other URLs get @libsql/client.
 */
export async function openWriteConnection(opts: OpenOptions, use: "write" | "read" = "write"): Promise<{ client: WriteClient; close(): void }> {
  const filePath = filePathOf(opts.url);
  if (!filePath) {
    const conn = await openConnection(opts);
    return { client: conn.client, close: conn.close };
  }
  let client: CachedClient;
  try {
    client = new CachedClient(new Database(filePath, { timeout: opts.busyTimeoutMs }));
    // A reader leaves the file's journal mode as it is: a store is in WAL already, and a backup
    // copy (a rollback-journal file) that export reads stays one, with no -wal beside it.
    if (use === "write") await applyConnectionPragmas(client, opts.busyTimeoutMs);
    else await client.execute(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`);
  } catch (cause) {
    const err = classifyStoreError(mapDriverError(cause));
    throw new StoreError(err.code, `${filePath}: ${err.message}`, { cause });
  }
  return { client, close: () => client.close() };
}

/**
 * Opens an existing store for a long walk of reads (export, the archive,
 * backup) on a {@link CachedClient}: the same few statements run thousands of
 * times, and @libsql/client's fresh statement per call keeps native memory
 * that Bun gives back late (measured: a 1 M-event export grew to 984 MB
 * resident through it; flat at ~70 MB with statements kept).
 */
export async function openReadConnection(opts: { url: string; busyTimeoutMs: number }): Promise<{ client: WriteClient; filePath: string | null; close(): void }> {
  const filePath = filePathOf(opts.url);
  if (filePath && !existsSync(filePath)) throw new StoreError("unavailable", `store file ${filePath} does not exist`);
  const conn = await openWriteConnection(opts, "read");
  return { ...conn, filePath };
}

type Statement = ReturnType<Database.Database["prepare"]>;

interface Prepared {
  stmt: Statement;
  /** Returns rows (SELECT, RETURNING, some PRAGMAs): run with all(), else run(). */
  reader: boolean;
  columns: string[];
  columnTypes: string[];
  makeRow: ((values: unknown[]) => Row) | null;
}

/** Prepared statements kept per connection; the writer's statement texts are few (multi-row ones come in fixed sizes). */
const MAX_PREPARED = 256;

/**
 * A client over one `libsql` connection that keeps prepared statements by SQL
 * text (least recently used dropped first). Results have @libsql/client's
 * shape: rows answer by column name and index, integers are numbers, blobs
 * ArrayBuffers; errors are LibsqlErrors with the same codes.
 */
class CachedClient implements WriteClient {
  readonly dialect = sqliteDialect;
  #db: Database.Database;
  #prepared = new Map<string, Prepared>();
  #closed = false;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  get closed(): boolean {
    return this.#closed || !this.#db.open;
  }

  async execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    this.#checkOpen();
    return this.#run(typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql);
  }

  async batch(stmts: InStatement[], mode: TransactionMode = "deferred"): Promise<ResultSet[]> {
    this.#checkOpen();
    this.#run(beginStatement(mode));
    try {
      const results = stmts.map((s) => this.#run(s));
      this.#run("COMMIT");
      return results;
    } finally {
      this.#rollbackIfOpen();
    }
  }

  async transaction(mode: TransactionMode = "write"): Promise<WriteTransaction> {
    this.#checkOpen();
    this.#run(beginStatement(mode));
    let open = true;
    const settle = () => {
      if (!open) return;
      open = false;
      this.#rollbackIfOpen();
    };
    const live = () => {
      if (!open || this.closed || !this.#db.inTransaction) throw new LibsqlError("The transaction is closed", "TRANSACTION_CLOSED");
    };
    return {
      execute: async (stmt) => {
        live();
        return this.#run(stmt);
      },
      commit: async () => {
        try {
          live();
          this.#run("COMMIT");
        } finally {
          settle();
        }
      },
      rollback: async () => settle(),
      close: settle,
    };
  }

  close(): void {
    this.#closed = true;
    this.#prepared.clear();
    try {
      if (this.#db.open) this.#db.close();
    } catch {
      // nothing useful to do while tearing down
    }
  }

  #checkOpen(): void {
    if (this.closed) throw new LibsqlError("The client is closed", "CLIENT_CLOSED");
  }

  // Reading inTransaction on a closed database aborts the process: check open first.
  #rollbackIfOpen(): void {
    if (!this.#db.open || !this.#db.inTransaction) return;
    try {
      this.#run("ROLLBACK");
    } catch {
      this.close();
    }
  }

  #prepare(sql: string): Prepared {
    let p = this.#prepared.get(sql);
    if (p) {
      // Most recently used goes last; the first key is the one to drop.
      this.#prepared.delete(sql);
      this.#prepared.set(sql, p);
      return p;
    }
    const stmt = this.#db.prepare(sql);
    const reader = stmt.reader;
    if (reader) stmt.raw(true).safeIntegers(true);
    const cols = reader ? stmt.columns() : [];
    const columns = cols.map((c) => c.name);
    p = { stmt, reader, columns, columnTypes: cols.map((c) => c.type ?? ""), makeRow: reader ? rowBuilder(columns) : null };
    this.#prepared.set(sql, p);
    if (this.#prepared.size > MAX_PREPARED) this.#prepared.delete(this.#prepared.keys().next().value!);
    return p;
  }

  #run(stmt: InStatement | string): ResultSet {
    const sql = typeof stmt === "string" ? stmt : stmt.sql;
    const args = typeof stmt === "string" ? [] : argsToSql(stmt.args);
    try {
      const p = this.#prepare(sql);
      if (p.reader) {
        const raw = p.stmt.all(args) as unknown[][];
        for (const values of raw) for (let i = 0; i < values.length; i++) values[i] = valueFromSql(values[i]);
        return new CachedResultSet(p.columns, p.columnTypes, raw, p.makeRow!, 0, undefined);
      }
      const info = p.stmt.run(args);
      return new CachedResultSet([], [], [], null, info.changes, BigInt(info.lastInsertRowid));
    } catch (e) {
      // A statement that failed may be left mid-step: prepare it afresh next time.
      this.#prepared.delete(sql);
      throw mapDriverError(e);
    }
  }
}

/**
 * A result set whose rows are built only when read. `values` (plain arrays)
 * is what the writer thread sends to the main thread, so rows that only cross
 * the thread boundary are never built as objects here.
 */
export class CachedResultSet implements ResultSet {
  #rows: Row[] | null = null;
  constructor(
    readonly columns: string[],
    readonly columnTypes: string[],
    readonly values: unknown[][],
    private readonly makeRow: ((values: unknown[]) => Row) | null,
    readonly rowsAffected: number,
    readonly lastInsertRowid: bigint | undefined,
  ) {}

  get rows(): Row[] {
    return (this.#rows ??= this.makeRow ? this.values.map(this.makeRow) : []);
  }

  toJSON() {
    return {
      columns: this.columns,
      columnTypes: this.columnTypes,
      rows: this.values.map((r) => r.map((v) => (v instanceof ArrayBuffer ? Buffer.from(v).toString("base64") : v))),
      rowsAffected: this.rowsAffected,
      lastInsertRowid: this.lastInsertRowid !== undefined ? `${this.lastInsertRowid}` : null,
    };
  }
}

function beginStatement(mode: TransactionMode): string {
  if (mode === "write") return "BEGIN IMMEDIATE";
  if (mode === "read") return "BEGIN TRANSACTION READONLY";
  if (mode === "deferred") return "BEGIN DEFERRED";
  throw new RangeError('Unknown transaction mode, supported values are "write", "read" and "deferred"');
}

function argsToSql(args: InArgs | undefined): unknown[] | Record<string, unknown> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(valueToSql);
  const named: Record<string, unknown> = {};
  for (const name in args) {
    const c = name[0];
    named[c === "@" || c === "$" || c === ":" ? name.slice(1) : name] = valueToSql((args as Record<string, InValue>)[name]!);
  }
  return named;
}

// The same conversions as @libsql/client's embedded mode (intMode "number").
function valueToSql(value: InValue | undefined): unknown {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError("Only finite numbers (not Infinity or NaN) can be passed as arguments");
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (value instanceof Date) return value.valueOf();
  if (value === undefined) throw new TypeError("undefined cannot be passed as argument to the database");
  return value;
}

function valueFromSql(v: unknown): unknown {
  if (typeof v === "bigint") {
    if (v < -9007199254740991n || v > 9007199254740991n)
      throw new RangeError("Received integer which cannot be safely represented as a JavaScript number");
    return Number(v);
  }
  if (v instanceof Buffer) return v.buffer;
  return v;
}

const SQLITE_CODES: Record<number, string> = {
  1: "SQLITE_ERROR", 2: "SQLITE_INTERNAL", 3: "SQLITE_PERM", 4: "SQLITE_ABORT", 5: "SQLITE_BUSY", 6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM", 8: "SQLITE_READONLY", 9: "SQLITE_INTERRUPT", 10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT",
  12: "SQLITE_NOTFOUND", 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL", 16: "SQLITE_EMPTY",
  17: "SQLITE_SCHEMA", 18: "SQLITE_TOOBIG", 19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 21: "SQLITE_MISUSE",
  22: "SQLITE_NOLFS", 23: "SQLITE_AUTH", 24: "SQLITE_FORMAT", 25: "SQLITE_RANGE", 26: "SQLITE_NOTADB",
};

// As @libsql/client maps them: code is the base SQLite code, extendedCode the driver's.
function mapDriverError(e: unknown): unknown {
  if (!(e instanceof Database.SqliteError)) return e;
  const raw = (e as { rawCode?: number }).rawCode;
  const code = raw === undefined ? "SQLITE_UNKNOWN" : (SQLITE_CODES[raw & 0xff] ?? `SQLITE_UNKNOWN_${raw & 0xff}`);
  return new LibsqlError(e.message, code, (e as { code?: string }).code, raw, e);
}
