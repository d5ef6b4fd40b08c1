/**
 * The writer as the main thread sees it: ingest submits, rejections and
 * `write` jobs, each resolving only once durable, while the group commit
 * itself runs on the writer thread (thread.ts). Requests that arrive in the
 * same tick travel to the thread in one message and commit together.
 */
import type { InStatement, ResultSet } from "@libsql/client";
import { StoreError, type StoreErrorCode } from "../errors.ts";
import { sqliteDialect } from "../dialect.ts";
import type { Durability, SqlWriter } from "../sql-client.ts";
import { endStoreThread, startStoreThread, threadError } from "../store-thread.ts";
import type { IngestItem, IngestOutcome, RejectionItem } from "./group-commit.ts";
import type { BatchResult, FromWriter, ToWriter } from "./thread.ts";
import { decodeResults, encodeBatch, encodeStatements, fromWire, post, receiving, type WireResult } from "./wire.ts";

/** A group commit's writes, in-process or on the writer thread (what commit-health.ts watchCommits wraps). */
export interface CommitWriter extends SqlWriter {
  /** Stores one request (or finds its original); resolves only once durable. */
  submit(item: IngestItem): Promise<IngestOutcome>;
  /** Records a rejection with the next round; never fails the caller. */
  recordRejection(item: RejectionItem): void;
  /** Resolves when everything queued so far is written. */
  flushed(): Promise<void>;
  /**
   * Runs a PASSIVE WAL checkpoint on the write connection between two transactions (so that the WAL can
   * start over); `truncate`: a TRUNCATE checkpoint, which also gives the WAL file's room back (a disk short of it).
   * Resolves true when it ran to its end (a reader on the WAL stops it): after a TRUNCATE, the WAL is empty.
   */
  checkpoint(truncate?: boolean): Promise<boolean>;
}

/** Every write of the process goes through this (the watched CommitWriter). */
export interface Writer extends CommitWriter {
  /**
   * How long ingest requests waited for their commit (ms): the mean of those
   * answered since the previous call, or the age of the oldest still waiting
   * when that is longer (commit-wait.ts); 0 if none.
   */
  ackWaitMs(): number;
}

interface Pending {
  resolve(o: IngestOutcome): void;
  reject(e: StoreError): void;
}

/** Main-thread side of the writer thread. */
export class WriterProxy implements CommitWriter {
  /** The writer thread writes only embedded files. */
  readonly dialect = sqliteDialect;
  #worker: Worker;
  #seq = 0;
  /** Waiting to be sent; the first has sequence number #seq - #queue.length + 1. */
  #queue: IngestItem[] = [];
  #rejections: RejectionItem[] = [];
  #pending = new Map<number, Pending>();
  #scheduled = false;
  /** Batches sent and not yet answered (a rejection-only batch is answered too). */
  #inflight = 0;
  #idle: (() => void)[] = [];
  #onClosed: (() => void) | null = null;
  #writeSeq = 0;
  #writes = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();

  write(stmts: InStatement[], durability: Durability = "durable"): Promise<ResultSet[]> {
    const wire = encodeStatements(stmts);
    return this.#ask<WireResult[]>((id) => ({ kind: "write", id, stmts: wire.json, durability, postedAt: Date.now() }), wire.bytes).then((results) => results.map(fromWire));
  }

  checkpoint(truncate = false): Promise<boolean> {
    return this.#ask<boolean>((id) => ({ kind: "checkpoint", id, truncate }));
  }

  /** Posts a request the thread answers by its id: `written` (result sets), `checkpointed`, or `write-failed`. */
  #ask<T>(message: (id: number) => ToWriter, bytes: Uint8Array | null = null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = ++this.#writeSeq;
      this.#writes.set(id, { resolve: (r) => resolve(r as T), reject });
      post(this.#worker, message(id), bytes);
    });
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = receiving<FromWriter>((m, bytes) => this.#receive(m, bytes));
    worker.addEventListener("error", (e) => this.#failAll(new StoreError("unavailable", `store writer crashed: ${e.message}`)));
  }

  /** Starts the writer thread and opens its connection; rejects if the store cannot be opened. */
  static async start(url: string, busyTimeoutMs: number): Promise<WriterProxy> {
    return new WriterProxy(await startStoreThread("writer/thread", url, busyTimeoutMs));
  }

  submit(item: IngestItem): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      const seq = ++this.#seq;
      this.#pending.set(seq, { resolve, reject });
      this.#queue.push(item);
      this.#schedule();
    });
  }

  recordRejection(item: RejectionItem): void {
    this.#rejections.push(item);
    this.#schedule();
  }

  async flushed(): Promise<void> {
    if (this.#isIdle()) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Waits for queued writes, then ends the worker (its connection closes with it). */
  async close(): Promise<void> {
    await this.flushed();
    await endStoreThread(this.#worker, (closed) => (this.#onClosed = closed));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const firstSeq = this.#seq - this.#queue.length + 1;
      const { meta, bytes } = encodeBatch(this.#queue, this.#rejections);
      this.#queue = [];
      this.#rejections = [];
      this.#inflight++;
      post(this.#worker, { kind: "batch", firstSeq, meta, postedAt: Date.now() } satisfies ToWriter, bytes);
    });
  }

  #receive(m: FromWriter, bytes: Uint8Array | null): void {
    if (m.kind === "closed") return this.#onClosed?.();
    if (m.kind === "written" || m.kind === "checkpointed" || m.kind === "write-failed") {
      const p = this.#writes.get(m.id);
      this.#writes.delete(m.id);
      if (m.kind === "written") p?.resolve(decodeResults({ json: m.results, bytes }));
      else if (m.kind === "checkpointed") p?.resolve(m.whole);
      else p?.reject(threadError(m.message, m.code));
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
    for (const p of this.#writes.values()) p.reject(err);
    this.#writes.clear();
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
