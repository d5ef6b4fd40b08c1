/**
 * The only file that names the PostgreSQL driver (Bun's built-in SQL client).
 * It gives the store functions the same client shape as the embedded file's
 * (../client.ts WriteClient): statements with `?`, `?N` or `:name`
 * placeholders, rows that answer by column name and by index, integers as
 * numbers, blobs as ArrayBuffers. So one statement text serves both engines
 * wherever their SQL agrees; where it does not, the store function asks the
 * dialect (../dialect.ts).
 */
import { SQL } from "bun";
import type { InArgs, InStatement, InValue, ResultSet, TransactionMode } from "@libsql/client";
import { CachedResultSet, type WriteClient, type WriteTransaction } from "../client.ts";
import { rowBuilder } from "../result-rows.ts";
import { classifyStoreError, StoreError } from "../errors.ts";
import { postgresDialect } from "../dialect.ts";
import { NoAnswerError, type ConnectionHooks } from "./connection-watch.ts";
import { whyNoConnection } from "./connect-failure.ts";

export interface PgOptions {
  /** postgres://user@host:port/db?sslmode=… (standard PG* variables fill what it leaves out). */
  url: string;
  /** The resolved `[store] password` secret, if any (else the URL's, or PGPASSWORD). */
  password?: string;
  /** Connections in the pool. */
  max?: number;
  /** Give up on a connection attempt after this long. */
  connectTimeoutMs?: number;
  /**
   * How long a statement waits for a lock another connection holds before it
   * fails as busy (lock_timeout): the file's busy timeout, so that a locked
   * store answers 503 instead of holding every request.
   */
  lockTimeoutMs?: number;
  /** Told of connections that fail; holds statements back while the database is away (connection-watch.ts). */
  hooks?: ConnectionHooks;
  /**
   * A statement not answered within this long is taken for a server that is
   * gone without closing its connections (frozen, or the network between cut
   * without a reset): it fails as unreachable and the hooks are told, instead
   * of holding its caller (an ingest request) for as long as the server is
   * away. Unset: statements wait (a read may rightly take long).
   */
  answerTimeoutMs?: number;
}

/** True when `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password (in the userinfo or the query), for messages and logs: every line names the database alike. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const key of ["password", "sslpassword"]) if (u.searchParams.has(key)) u.searchParams.set(key, "***");
    return u.toString();
  } catch {
    return "the PostgreSQL URL";
  }
}

/** A query parameter of the URL, or null. */
function urlParam(url: string, name: string): string | null {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return null;
  }
}

/** The database a URL names (its path), or null when it leaves it to PGDATABASE or the user name. */
function databaseOf(url: string): string | null {
  try {
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    return name === "" ? null : name;
  } catch {
    return null;
  }
}

/** Opens a pool and checks that the database answers. */
export async function openPgClient(opts: PgOptions): Promise<PgClient> {
  const database = databaseOf(opts.url);
  const sql = new SQL({
    url: opts.url,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    // Bun lets PGDATABASE win over the URL's database; the URL in the config says which one is meant.
    ...(database ? { database } : {}),
    max: opts.max ?? 4,
    connectionTimeout: Math.ceil((opts.connectTimeoutMs ?? 10_000) / 1000),
    idleTimeout: 60,
    connection: {
      // An option wins over the URL: keep the operator's name for a relay (`?application_name=relay-a`).
      application_name: urlParam(opts.url, "application_name") ?? "hookrelay",
      ...(opts.lockTimeoutMs !== undefined ? { lock_timeout: String(Math.max(1, Math.floor(opts.lockTimeoutMs))) } : {}),
    },
    // Statements with a placeholder text of their own are prepared once per connection.
    prepare: true,
  });
  const client = new PgClient(sql, opts.hooks, opts.answerTimeoutMs);
  try {
    await client.sql.unsafe("SELECT 1");
  } catch (cause) {
    client.close();
    // Bun says only "Failed to connect" when the server cannot be reached at all; find out why.
    const unreachable = (cause as { code?: string }).code === "ERR_POSTGRES_CONNECTION_REFUSED" ? await whyNoConnection(opts.url, Math.min(opts.connectTimeoutMs ?? 10_000, 5_000)) : null;
    throw new StoreError("unavailable", `cannot connect to ${redactedUrl(opts.url)}: ${unreachable ?? (cause as Error).message}`, { cause });
  }
  return client;
}

type Runner = Pick<SQL, "unsafe">;

/** A pool of connections with the embedded client's shape; a transaction holds one connection. */
export class PgClient implements WriteClient {
  readonly dialect = postgresDialect;
  #closed = false;
  constructor(
    readonly sql: SQL,
    private readonly hooks?: ConnectionHooks,
    private readonly answerTimeoutMs?: number,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  async execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    if (this.#closed) throw new StoreError("unavailable", "the PostgreSQL client is closed");
    this.#holdBack();
    return this.#watched(run(this.sql, typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql));
  }

  /** While the database is known to be away, fail at once rather than wait for a connection attempt. */
  #holdBack(): void {
    const down = this.hooks?.downError();
    if (down) throw down;
  }

  /** `p`, telling the hooks when it failed because its connection did, or was not answered in time. */
  #watched<T>(p: Promise<T>): Promise<T> {
    const answered = this.answerTimeoutMs === undefined ? p : withinAnswerTime(p, this.answerTimeoutMs);
    if (!this.hooks) return answered;
    return answered.catch((err: unknown) => {
      if (classifyStoreError(err).code === "unreachable") this.hooks!.failed(err);
      throw err;
    });
  }

  async batch(stmts: InStatement[], mode: TransactionMode = "deferred"): Promise<ResultSet[]> {
    const tx = await this.transaction(mode);
    try {
      // Sent together on the transaction's one connection (pipelined), answered in order.
      const results = await Promise.all(stmts.map((s) => tx.execute(s)));
      await tx.commit();
      return results;
    } finally {
      tx.close();
    }
  }

  async transaction(mode: TransactionMode = "write"): Promise<WriteTransaction> {
    if (this.#closed) throw new StoreError("unavailable", "the PostgreSQL client is closed");
    this.#holdBack();
    const conn = await this.#watched(this.sql.reserve());
    let open = true;
    const settle = async (how: "COMMIT" | "ROLLBACK") => {
      if (!open) return;
      open = false;
      try {
        await this.#watched(conn.unsafe(how));
      } finally {
        conn.release();
      }
    };
    try {
      // A read batch is one snapshot, as on the embedded file (an export's event agrees with its deliveries);
      // READ COMMITTED would give each statement its own.
      await this.#watched(conn.unsafe(mode === "read" ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"));
    } catch (err) {
      open = false;
      conn.release();
      throw err;
    }
    return {
      execute: async (stmt) => {
        if (!open) throw new StoreError("unavailable", "the transaction is closed");
        return this.#watched(run(conn, stmt));
      },
      commit: () => settle("COMMIT"),
      rollback: () => settle("ROLLBACK").catch(() => {}),
      close: () => void settle("ROLLBACK").catch(() => {}),
    };
  }

  close(): void {
    void this.end();
  }

  /** Closes every connection of the pool (waiting up to a second for running statements). */
  async end(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.sql.close({ timeout: 1 }).catch(() => {});
  }
}

/**
 * `p`, or an unreachable StoreError once `ms` passed without an answer. The
 * statement itself is not stopped: a server that comes back may still carry
 * it out (a commit then stands, and a provider's retry of a request answered
 * 503 meanwhile is its duplicate).
 */
export function withinAnswerTime<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(ms)), ms);
  });
  // Settled late, after the deadline answered for it: nobody is waiting for it then.
  p.catch(() => {});
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// PostgreSQL type oids whose values the driver hands out as something else than the embedded client does.
const INT8 = 20;
const NUMERIC = 1700;
const BOOL = 16;
const BYTEA = 17;

async function run(conn: Runner, stmt: InStatement): Promise<ResultSet> {
  const { sql, args } = typeof stmt === "string" ? { sql: stmt, args: [] } : stmt;
  const { text, params } = translate(sql);
  const values = bindArgs(params, args);
  const rs = (await conn.unsafe(text, values as never).values()) as unknown[][] & {
    count: number | null;
    command: string;
    columns?: { name: string; type: number }[];
  };
  const columns = (rs.columns ?? []).map((c) => c.name);
  const types = (rs.columns ?? []).map((c) => c.type);
  const convert = types.map(converterFor);
  if (convert.some((c) => c !== null)) {
    for (const row of rs) {
      for (let i = 0; i < row.length; i++) {
        const c = convert[i];
        if (c && row[i] !== null) row[i] = c(row[i]);
      }
    }
  }
  const returnsRows = columns.length > 0;
  const affected = rs.command === "SELECT" ? 0 : (rs.count ?? 0);
  return new CachedResultSet(columns, types.map(String), [...rs], returnsRows ? rowBuilder(columns) : null, affected, undefined);
}

function converterFor(type: number): ((v: unknown) => unknown) | null {
  if (type === INT8 || type === NUMERIC) return (v) => Number(v);
  if (type === BOOL) return (v) => (v ? 1 : 0);
  if (type === BYTEA) return (v) => {
    const b = v as Buffer;
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  return null;
}

/** Where each `$n` takes its value from: an index into positional args, or a name. */
type Param = number | string;

const translated = new Map<string, { text: string; params: Param[] }>();
const MAX_TRANSLATED = 1024;

/**
 * Rewrites SQLite placeholders (`?`, `?N`, `:name`, `@name`, `$name`) as
 * PostgreSQL's `$n`, outside string literals, quoted names and comments, and
 * leaving `::type` casts alone.
 */
export function translate(sql: string): { text: string; params: Param[] } {
  const hit = translated.get(sql);
  if (hit) return hit;
  const params: Param[] = [];
  const named = new Map<string, number>();
  let out = "";
  let next = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === ":" && sql[i + 1] === ":") {
      out += "::";
      i++;
    } else if (c === "?") {
      const m = /^\d+/.exec(sql.slice(i + 1));
      if (m) {
        const at = Number(m[0]) - 1;
        let n = named.get(`?${at}`);
        if (n === undefined) {
          params.push(at);
          n = params.length;
          named.set(`?${at}`, n);
        }
        out += `$${n}`;
        i += m[0].length;
      } else {
        params.push(next++);
        out += `$${params.length}`;
      }
    } else if ((c === ":" || c === "@" || c === "$") && /[A-Za-z_]/.test(sql[i + 1] ?? "") && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? "")) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      let n = named.get(m[0]);
      if (n === undefined) {
        params.push(m[0]);
        n = params.length;
        named.set(m[0], n);
      }
      out += `$${n}`;
      i += m[0].length;
    } else {
      out += c;
    }
  }
  const result = { text: out, params };
  translated.set(sql, result);
  if (translated.size > MAX_TRANSLATED) translated.delete(translated.keys().next().value!);
  return result;
}

function closingQuote(sql: string, start: number, q: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) i++;
      else return i;
    }
  }
  return sql.length - 1;
}

function bindArgs(params: Param[], args: InArgs | undefined): unknown[] {
  const list = Array.isArray(args) ? args : [];
  const byName = !Array.isArray(args) && args ? (args as Record<string, InValue>) : {};
  return params.map((p) => {
    const v = typeof p === "number" ? list[p] : namedValue(byName, p);
    return valueToPg(v, p);
  });
}

// By `in`, not `??`: a name bound to null is bound.
function namedValue(byName: Record<string, InValue>, p: string): InValue | undefined {
  for (const k of [p, `:${p}`, `@${p}`, `$${p}`]) if (k in byName) return byName[k];
  return undefined;
}

function valueToPg(v: InValue | undefined, p: Param): unknown {
  if (v === undefined) throw new TypeError(`no value for the statement's parameter ${typeof p === "number" ? p + 1 : p}`);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof Date) return v.valueOf();
  return v;
}
