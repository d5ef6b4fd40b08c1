/**
 * The ingest writer as the main thread sees it: same contract as
 * IngestWriter (submit resolves only once the row is durable), but the
 * transaction runs on writer-worker.ts's thread. Requests that arrive in the
 * same tick travel to the worker in one message and commit together.
 */
import { StoreError, type StoreErrorCode } from "./errors.ts";
import type { IngestItem, IngestOutcome, RejectionItem } from "./ingest-writer.ts";
import type { BatchResult, FromWorker, ToWorker, WireResult } from "./writer-worker.ts";
import { encodeBatch } from "./ingest-wire.ts";
import { fromWire, RemoteSqlError, type SqlClient } from "./remote-client.ts";
import type { InArgs, InStatement, ResultSet, TransactionMode } from "@libsql/client";

/** What ingest needs from a writer, in-process or on a worker. */
export interface Writer {
  submit(item: IngestItem): Promise<IngestOutcome>;
  recordRejection(item: RejectionItem): void;
  flushed(): Promise<void>;
  /**
   * How many ingest requests were waiting for their commit, on average, as each
   * request submitted since the previous call found it (itself included); 0 if none.
   */
  ackBacklog(): number;
}

interface Pending {
  resolve(o: IngestOutcome): void;
  reject(e: StoreError): void;
}

/**
 * Main-thread side of the writer worker: the ingest writer, and (`sql`) a
 * client whose statements run on the same worker connection.
 */
export class WorkerWriter implements Writer {
  #worker: Worker;
  #seq = 0;
  /** Waiting to be sent; the first has sequence number #seq - #queue.length + 1. */
  #queue: IngestItem[] = [];
  #rejections: RejectionItem[] = [];
  #pending = new Map<number, Pending>();
  /** Sum of the waiting counts seen by each submit since ackBacklog(), and how many. */
  #seen = 0;
  #seenBy = 0;
  #scheduled = false;
  /** Batches sent and not yet answered (a rejection-only batch is answered too). */
  #inflight = 0;
  #idle: (() => void)[] = [];
  #onClosed: (() => void) | null = null;
  #sqlSeq = 0;
  #sqlPending = new Map<number, { resolve(r: WireResult | WireResult[]): void; reject(e: Error): void }>();

  /** Runs the delivery engine's statements on the writer thread's connection. */
  readonly sql: SqlClient = {
    execute: (stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> => {
      const stmt: InStatement = typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
      return this.#sql((id) => ({ kind: "execute", id, stmt })).then((r) => fromWire(r as WireResult));
    },
    batch: (stmts: InStatement[], mode?: TransactionMode): Promise<ResultSet[]> =>
      this.#sql((id) => ({ kind: "sql-batch", id, stmts, mode })).then((r) => (r as WireResult[]).map(fromWire)),
  };

  #sql(make: (id: number) => ToWorker): Promise<WireResult | WireResult[]> {
    return new Promise((resolve, reject) => {
      const id = ++this.#sqlSeq;
      this.#sqlPending.set(id, { resolve, reject });
      this.#worker.postMessage(make(id));
    });
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#receive(e.data);
    worker.addEventListener("error", (e) => this.#failAll(new StoreError("unavailable", `store writer crashed: ${e.message}`)));
  }

  /** Starts the worker and opens its connection; rejects if the store cannot be opened. */
  static async start(url: string, busyTimeoutMs: number): Promise<WorkerWriter> {
    const worker = new Worker(workerPath("writer-worker"));
    const opened = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        if (e.data.kind === "opened") resolve();
        else if (e.data.kind === "failed") reject(new StoreError("unavailable", e.data.message));
      };
      worker.addEventListener("error", (e) => reject(new StoreError("unavailable", e.message)));
    });
    worker.postMessage({ kind: "open", url, busyTimeoutMs } satisfies ToWorker);
    await opened;
    return new WorkerWriter(worker);
  }

  submit(item: IngestItem): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      const seq = ++this.#seq;
      this.#pending.set(seq, { resolve, reject });
      this.#seen += this.#pending.size;
      this.#seenBy++;
      this.#queue.push(item);
      this.#schedule();
    });
  }

  recordRejection(item: RejectionItem): void {
    this.#rejections.push(item);
    this.#schedule();
  }

  ackBacklog(): number {
    const mean = this.#seenBy === 0 ? 0 : this.#seen / this.#seenBy;
    this.#seen = this.#seenBy = 0;
    return mean;
  }

  async flushed(): Promise<void> {
    if (this.#isIdle()) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Waits for queued writes, then ends the worker (its connection closes with it). */
  async close(): Promise<void> {
    await this.flushed();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.#onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#worker.postMessage({ kind: "close" } satisfies ToWorker);
    });
    this.#worker.terminate();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const msg: ToWorker = { kind: "batch", firstSeq: this.#seq - this.#queue.length + 1, wire: encodeBatch(this.#queue, this.#rejections) };
      this.#queue = [];
      this.#rejections = [];
      this.#inflight++;
      this.#worker.postMessage(msg, [msg.wire.bodies]);
    });
  }

  #receive(m: FromWorker): void {
    if (m.kind === "closed") return this.#onClosed?.();
    if (m.kind === "sql-result" || m.kind === "sql-error") {
      const p = this.#sqlPending.get(m.id);
      this.#sqlPending.delete(m.id);
      if (m.kind === "sql-result") p?.resolve(m.result);
      else p?.reject(new RemoteSqlError(m.error.message, m.error.code));
      return;
    }
    if (m.kind !== "results") return;
    this.#inflight--;
    (JSON.parse(m.results) as BatchResult[]).forEach((r, i) => {
      const seq = m.firstSeq + i;
      const p = this.#pending.get(seq);
      if (!p) return;
      this.#pending.delete(seq);
      if (r[0] === "error") p.reject(new StoreError(r[1] as StoreErrorCode, r[2]));
      else if (r[0] === "stored") p.resolve({ kind: "stored", id: r[1], leased: r[2] });
      else p.resolve({ kind: "duplicate", id: r[1] });
    });
    this.#settleIdle();
  }

  #failAll(err: StoreError): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const p of this.#sqlPending.values()) p.reject(err);
    this.#sqlPending.clear();
    this.#inflight = 0;
    this.#settleIdle();
  }

  #isIdle(): boolean {
    return this.#inflight === 0 && this.#pending.size === 0 && this.#queue.length === 0 && this.#rejections.length === 0;
  }

  #settleIdle(): void {
    if (!this.#isIdle()) return;
    for (const f of this.#idle.splice(0)) f();
  }
}

/**
 * A store worker's module path. The build embeds each worker as an extra
 * entrypoint under the binary's virtual root (`/$bunfs/root/`, mirroring
 * src/); from source it sits beside this file.
 */
export function workerPath(name: "writer-worker" | "checkpoint-worker"): string {
  if (import.meta.url.includes("$bunfs")) return `/$bunfs/root/store/${name}.ts`;
  return new URL(`./${name}.ts`, import.meta.url).href;
}
