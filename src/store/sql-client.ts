/**
 * The store's two doors, as the store functions see them. Reads run on the
 * reader thread's connection (store.reads; reader/): WAL readers never wait
 * for the writer, and a heavy read holds no ack. Every write of the process — ingest, leases and outcomes, target
 * state, retention, admin actions — goes through the one writer (store.writer,
 * writer/): it joins the writer's next group transaction, so the disk sees
 * one fsync per round for all of them, and this process's writes never wait
 * on each other in SQLite's busy handler. Both doors carry the engine's
 * dialect (dialect.ts): the same doors open onto an embedded file or onto
 * PostgreSQL.
 */
import type { InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";
import type { Dialect } from "./dialect.ts";

/** Reads: the part of a libSQL client the read-side store functions use. */
export interface SqlReader {
  /** The engine's SQL where it differs (dialect.ts). */
  readonly dialect: Dialect;
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
}

/**
 * How durable a write must be. `durable` (the default): committed with an
 * fsync (synchronous=FULL) before it resolves — an acknowledged event, an
 * admin action. `redoable`: work that is done again if a power failure loses
 * it (a lease or an attempt's outcome: the lease expires and the attempt is
 * made again, at-least-once) — committed without waiting for the disk when
 * nothing durable shares its transaction. A crash of the process loses
 * neither: the operating system holds what was written.
 */
export type Durability = "durable" | "redoable";

/** Writes: statements that commit together, in the writer's next group transaction. */
export interface SqlWriter {
  /** The engine's SQL where it differs (dialect.ts). */
  readonly dialect: Dialect;
  /**
   * Runs `stmts` atomically (a savepoint of the next group transaction) and
   * resolves with their results once that transaction is committed; rejects
   * with the failing statement's error (the rest of the round still commits)
   * or the transaction's.
   */
  write(stmts: InStatement[], durability?: Durability): Promise<ResultSet[]>;
}

/** Error carrying the driver's code across the writer thread, so classifyStoreError reads it as before. */
export class RemoteSqlError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** Both doors, for store functions that read and then write (the Store itself fits). */
export interface SqlDoors {
  reads: SqlReader;
  writer: SqlWriter;
}

/** An open transaction on the reads' side (tests stage locks with it; export reads in one snapshot). */
export interface ReadTransaction {
  execute(stmt: InStatement): Promise<ResultSet>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): void;
}

/** The store's reads door: statements, batches in one snapshot, and transactions. */
export interface StoreReads extends SqlReader {
  batch(stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]>;
  transaction(mode?: TransactionMode): Promise<ReadTransaction>;
}
