/**
 * The main thread's side of the reader thread (thread.ts): store.reads for
 * an embedded file. Each read is posted with its statements and answered
 * with its result sets, rebuilt into the driver's row shape (writer/wire.ts,
 * as the writer's answers are). Reads are answered in the order asked: one
 * connection, one statement at a time.
 */
import type { InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";
import { openReadConnection } from "../client.ts";
import { sqliteDialect } from "../dialect.ts";
import { StoreError } from "../errors.ts";
import type { ReadTransaction, StoreReads } from "../sql-client.ts";
import { endStoreThread, startStoreThread, threadError } from "../store-thread.ts";
import { decodeResults, encodeStatements, fromWire, post, receiving, type WireResult } from "../writer/wire.ts";
import type { FromReader, ToReader } from "./thread.ts";

export class ReaderProxy implements StoreReads {
  readonly dialect = sqliteDialect;
  #worker: Worker;
  #seq = 0;
  #reads = new Map<number, { resolve(r: WireResult[]): void; reject(e: Error): void }>();
  #onClosed: (() => void) | null = null;

  private constructor(
    worker: Worker,
    private readonly opened: { url: string; busyTimeoutMs: number },
  ) {
    this.#worker = worker;
    worker.onmessage = receiving<FromReader>((m, bytes) => this.#receive(m, bytes));
    worker.addEventListener("error", (e) => this.#failAll(new StoreError("unavailable", `store reader crashed: ${e.message}`)));
  }

  /** Starts the reader thread and opens its connection; rejects if the store cannot be opened. */
  static async start(url: string, busyTimeoutMs: number): Promise<ReaderProxy> {
    return new ReaderProxy(await startStoreThread("reader/thread", url, busyTimeoutMs), { url, busyTimeoutMs });
  }

  execute(stmt: InStatement): Promise<ResultSet>;
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
  async execute(stmt: InStatement | string, args?: InArgs): Promise<ResultSet> {
    const statement = typeof stmt === "string" ? (args === undefined ? stmt : { sql: stmt, args }) : stmt;
    const [result] = await this.#ask([statement], false, "read");
    return fromWire(result!);
  }

  async batch(stmts: InStatement[], mode: TransactionMode = "read"): Promise<ResultSet[]> {
    return (await this.#ask(stmts, true, mode)).map(fromWire);
  }

  /**
   * A transaction on a connection of its own, on this thread (tests stage a
   * lock with one; nothing serving requests holds one open): the reader
   * thread answers one read after another and cannot be held by it.
   */
  async transaction(mode: TransactionMode = "read"): Promise<ReadTransaction> {
    const conn = await openReadConnection(this.opened);
    const tx = await conn.client.transaction(mode).catch((err: unknown) => {
      conn.close();
      throw err;
    });
    const done = <T>(p: Promise<T>) => p.finally(() => conn.close());
    return {
      execute: (s) => tx.execute(s),
      commit: () => done(tx.commit()),
      rollback: () => done(tx.rollback()),
      close: () => {
        tx.close();
        conn.close();
      },
    };
  }

  /** Ends the thread (its connection closes with it). */
  async close(): Promise<void> {
    await endStoreThread(this.#worker, (closed) => (this.#onClosed = closed));
    this.#failAll(new StoreError("unavailable", "the store is closed"));
  }

  #ask(stmts: InStatement[], batch: boolean, mode: TransactionMode): Promise<WireResult[]> {
    const wire = encodeStatements(stmts);
    return new Promise<WireResult[]>((resolve, reject) => {
      const id = ++this.#seq;
      this.#reads.set(id, { resolve, reject });
      post(this.#worker, { kind: "read", id, stmts: wire.json, batch, mode } satisfies ToReader, wire.bytes);
    });
  }

  #receive(m: FromReader, bytes: Uint8Array | null): void {
    if (m.kind === "closed") return this.#onClosed?.();
    if (m.kind !== "read" && m.kind !== "read-failed") return;
    const p = this.#reads.get(m.id);
    this.#reads.delete(m.id);
    if (m.kind === "read") p?.resolve(decodeResults({ json: m.results, bytes }));
    else p?.reject(threadError(m.message, m.code));
  }

  #failAll(err: StoreError): void {
    for (const p of this.#reads.values()) p.reject(err);
    this.#reads.clear();
  }
}
