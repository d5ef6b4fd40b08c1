/** The one error class for failed infrastructure (STYLE.md): a code and a cause. */
/** `unreachable`: a database server that does not answer (PostgreSQL); the store logs its loss and return itself. */
export type StoreErrorCode = "unavailable" | "full" | "busy" | "readonly" | "corrupt" | "invalid" | "unreachable";

const STORE_ERROR_CODES: ReadonlySet<string> = new Set<StoreErrorCode>(["unavailable", "full", "busy", "readonly", "corrupt", "invalid", "unreachable"]);

/** True when `code` is one of ours (a StoreError's, carried across the writer thread as text). */
export function isStoreErrorCode(code: string | null | undefined): code is StoreErrorCode {
  return code != null && STORE_ERROR_CODES.has(code);
}

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Maps a driver error to a StoreError with a code the HTTP layer can act on. */
export function classifyStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const pg = postgresErrorCode(err);
  if (pg !== null) return classifyPostgres(err, pg);
  const text = `${(err as { code?: string })?.code ?? ""} ${(err as Error)?.message ?? err}`;
  if (/SQLITE_FULL|database or disk is full/i.test(text)) return new StoreError("full", "store is full", { cause: err });
  if (/SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(text)) return new StoreError("busy", "store is locked", { cause: err });
  if (/SQLITE_READONLY|readonly|read-only/i.test(text)) return new StoreError("readonly", "store is read-only", { cause: err });
  if (/SQLITE_CORRUPT|SQLITE_NOTADB|malformed|not a database/i.test(text))
    return new StoreError("corrupt", "store file is corrupt or not a database", { cause: err });
  return new StoreError("unavailable", "store cannot be written", { cause: err });
}

/** The SQLSTATE (or the driver's connection code) of a PostgreSQL error, else null. */
function postgresErrorCode(err: unknown): string | null {
  if (!(err instanceof Error) || err.name !== "PostgresError") return null;
  const e = err as Error & { errno?: string; code?: string };
  return e.errno ?? e.code ?? "";
}

/** PostgreSQL's SQLSTATE classes (https://www.postgresql.org/docs/current/errcodes-appendix.html) as our codes. */
function classifyPostgres(err: unknown, code: string): StoreError {
  const opts = { cause: err };
  if (code === "53100") return new StoreError("full", "store is full (the database server's disk)", opts);
  if (code === "25006") return new StoreError("readonly", "store is read-only (a read-only transaction or a standby server)", opts);
  if (code === "40001" || code === "40P01" || code === "55P03") return new StoreError("busy", "store is locked", opts);
  if (isConnectionFailure(code)) return new StoreError("unreachable", `cannot reach the database (${(err as Error).message})`, opts);
  return new StoreError("unavailable", `store cannot be written (${(err as Error).message})`, opts);
}

/**
 * A PostgreSQL error that says the connection, not the statement, failed:
 * the driver's connection codes, SQLSTATE class 08 (connection exception) and
 * 57P (the server shutting down, crashed, or not yet accepting connections).
 */
function isConnectionFailure(code: string): boolean {
  return code.startsWith("ERR_POSTGRES_CONNECTION") || code.startsWith("08") || code.startsWith("57P") || code === "ERR_POSTGRES_IDLE_TIMEOUT";
}

/**
 * True when PostgreSQL rolled the transaction back to break a deadlock, or for a
 * serialization conflict, with another writer (two relays on one database): the
 * transaction did nothing, and running it again is the remedy SQLSTATE 40 asks for.
 */
export function isWriteConflict(err: unknown): boolean {
  const code = postgresErrorCode(err);
  return code === "40P01" || code === "40001";
}

/** True when `err` is the database server not answering: the store has logged that once; callers need not log each failure. */
export function isStoreUnreachable(err: unknown): boolean {
  return classifyStoreError(err).code === "unreachable";
}
