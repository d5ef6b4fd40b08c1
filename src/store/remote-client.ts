/**
 * The part of the libSQL client the delivery engine's store functions use
 * (`execute`, `batch`), answered by sql-worker.ts on another thread. Results
 * come back as the driver's own row shape: column names and indexes.
 */
import type { InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";
import { StoreError } from "./errors.ts";
import type { SqlReply, SqlRequest, WireResult } from "./sql-worker.ts";
import { workerPath } from "./worker-writer.ts";

/** What the delivery-side store functions need from a client. */
export interface SqlClient {
  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  batch(stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]>;
}

/** Error carrying the driver's code, so classifyStoreError reads it as before. */
class RemoteSqlError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

function fromWire(w: WireResult): ResultSet {
  const rows = w.rows.map((values) => {
    const row: Record<string | number, unknown> = {};
    Object.defineProperty(row, "length", { value: values.length });
    values.forEach((v, i) => {
      Object.defineProperty(row, i, { value: v });
      const column = w.columns[i]!;
      if (!Object.hasOwn(row, column)) row[column] = v;
    });
    return row;
  });
  return {
    columns: w.columns,
    columnTypes: w.columnTypes,
    rows: rows as unknown as ResultSet["rows"],
    rowsAffected: w.rowsAffected,
    lastInsertRowid: w.lastInsertRowid,
    toJSON: () => ({ columns: w.columns, rows: w.rows }),
  };
}

/** A SqlClient whose statements run on a worker thread with its own connection. */
export class RemoteClient implements SqlClient {
  #seq = 0;
  #pending = new Map<number, { resolve(r: WireResult | WireResult[]): void; reject(e: Error): void }>();
  #onClosed: (() => void) | null = null;

  private constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<SqlReply>) => this.#receive(e.data);
    worker.addEventListener("error", (e) => {
      for (const p of this.#pending.values()) p.reject(new StoreError("unavailable", `store worker crashed: ${e.message}`));
      this.#pending.clear();
    });
  }

  /** Starts the worker and opens its connection. */
  static async start(url: string, busyTimeoutMs: number): Promise<RemoteClient> {
    const worker = new Worker(workerPath("sql-worker"));
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<SqlReply>) => {
        if (e.data.kind === "opened") resolve();
        else if (e.data.kind === "failed") reject(new StoreError("unavailable", e.data.message));
      };
      worker.addEventListener("error", (e) => reject(new StoreError("unavailable", e.message)));
      worker.postMessage({ kind: "open", url, busyTimeoutMs } satisfies SqlRequest);
    });
    return new RemoteClient(worker);
  }

  execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    const stmt: InStatement = typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
    return this.#send((id) => ({ kind: "execute", id, stmt })).then((r) => fromWire(r as WireResult));
  }

  batch(stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]> {
    return this.#send((id) => ({ kind: "batch", id, stmts, mode })).then((r) => (r as WireResult[]).map(fromWire));
  }

  /** Closes the worker's connection between statements, then ends the thread. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.#onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.worker.postMessage({ kind: "close" } satisfies SqlRequest);
    });
    this.worker.terminate();
  }

  #send(make: (id: number) => SqlRequest): Promise<WireResult | WireResult[]> {
    return new Promise((resolve, reject) => {
      const id = ++this.#seq;
      this.#pending.set(id, { resolve, reject });
      this.worker.postMessage(make(id));
    });
  }

  #receive(m: SqlReply): void {
    if (m.kind === "closed") return this.#onClosed?.();
    if (m.kind !== "result" && m.kind !== "error") return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.kind === "result") p.resolve(m.result);
    else p.reject(new RemoteSqlError(m.error.message, m.error.code));
  }
}
