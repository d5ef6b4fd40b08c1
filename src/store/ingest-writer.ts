/**
 * Group commit for ingest. Concurrent requests queue their raw request here;
 * one flush writes the whole queue in ONE durable transaction (dedupe check,
 * event row, one pending delivery per routed target, counters) and then
 * settles every waiting request. Under load this turns N fsyncs into one.
 * Rejections ride the same transactions, best-effort.
 */
import type { Client } from "@libsql/client";
import { classifyStoreError, type StoreError } from "./errors.ts";

export interface IngestItem {
  id: string;
  source: string;
  eventType: string | null;
  dedupeKey: string;
  dedupeWindowMs: number;
  receivedAt: number;
  method: string;
  path: string;
  query: string;
  headers: [string, string][];
  body: Uint8Array;
  contentType: string | null;
  remoteAddr: string | null;
  /** One delivery per entry; ids are made by the caller. */
  deliveries: { id: string; target: string; status: "pending" | "paused" }[];
}

export type IngestOutcome = { kind: "stored"; id: string } | { kind: "duplicate"; id: string };

export interface RejectionItem {
  id: string;
  source: string;
  receivedAt: number;
  reason: string;
  method: string;
  path: string;
  headers: [string, string][];
  bodyExcerpt: Uint8Array;
  remoteAddr: string | null;
  /** false when the rate limit said: count it, but do not keep the row. */
  keep: boolean;
}

interface Waiting {
  item: IngestItem;
  resolve(o: IngestOutcome): void;
  reject(e: StoreError): void;
}

export interface IngestWriterOptions {
  /** Flush at most this many requests per transaction. */
  maxBatch?: number;
  /** Called after each flush with its size and duration (metrics, benches). */
  onFlush?(rows: number, ms: number): void;
}

/** Queues ingest writes and commits them in shared transactions. */
export class IngestWriter {
  #queue: Waiting[] = [];
  #rejections: RejectionItem[] = [];
  #scheduled = false;
  #flushing: Promise<void> | null = null;
  readonly #maxBatch: number;

  constructor(
    private readonly client: Client,
    private readonly opts: IngestWriterOptions = {},
  ) {
    this.#maxBatch = opts.maxBatch ?? 512;
  }

  /** Stores one request (or finds its original); resolves only once durable. */
  submit(item: IngestItem): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Records a rejection on the next flush; never fails the caller. */
  recordRejection(item: RejectionItem): void {
    this.#rejections.push(item);
    this.#schedule();
  }

  /** Resolves when everything queued so far is written (shutdown, tests). */
  async flushed(): Promise<void> {
    while (this.#queue.length > 0 || this.#rejections.length > 0 || this.#flushing) {
      if (this.#flushing) await this.#flushing;
      else await this.#flush();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate lets every request already readable on the sockets join
    // this batch; while a commit runs, new ones pile up for the next.
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#flushing) void this.#flush();
      else void this.#flushing.then(() => this.#schedule());
    });
  }

  #flush(): Promise<void> {
    const run = async () => {
      while (this.#queue.length > 0 || this.#rejections.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        const rejections = this.#rejections.splice(0, this.#maxBatch);
        const started = performance.now();
        try {
          const outcomes = await this.#write(batch.map((w) => w.item), rejections);
          batch.forEach((w, i) => w.resolve(outcomes[i]!));
        } catch (cause) {
          const err = classifyStoreError(cause);
          for (const w of batch) w.reject(err);
        }
        this.opts.onFlush?.(batch.length, performance.now() - started);
      }
    };
    this.#flushing = run().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #write(items: IngestItem[], rejections: RejectionItem[]): Promise<IngestOutcome[]> {
    const tx = await this.client.transaction("write");
    try {
      const outcomes: IngestOutcome[] = [];
      // Dedupe inside the batch too: two copies can arrive in one flush.
      const inBatch = new Map<string, string>();
      const counters = new Map<string, { received: number; duplicates: number; rejected: number }>();
      const count = (source: string) => {
        let c = counters.get(source);
        if (!c) counters.set(source, (c = { received: 0, duplicates: 0, rejected: 0 }));
        return c;
      };
      for (const it of items) {
        const batchKey = `${it.source}\u0000${it.dedupeKey}`;
        let original = inBatch.get(batchKey) ?? null;
        if (original === null && it.dedupeWindowMs > 0) {
          const found = await tx.execute({
            sql: "SELECT id FROM events WHERE source = ? AND dedupe_key = ? AND received_at >= ? ORDER BY received_at DESC LIMIT 1",
            args: [it.source, it.dedupeKey, it.receivedAt - it.dedupeWindowMs],
          });
          original = found.rows.length > 0 ? String(found.rows[0]!.id) : null;
        }
        const c = count(it.source);
        if (original !== null) {
          await tx.execute({
            sql: "UPDATE events SET duplicates = duplicates + 1, last_duplicate_at = ? WHERE id = ?",
            args: [it.receivedAt, original],
          });
          c.duplicates++;
          outcomes.push({ kind: "duplicate", id: original });
          continue;
        }
        await tx.execute({
          sql: `INSERT INTO events (id, source, event_type, dedupe_key, received_at, method, path, query, headers, body, content_type, remote_addr)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          args: [
            it.id, it.source, it.eventType, it.dedupeKey, it.receivedAt, it.method, it.path, it.query,
            JSON.stringify(it.headers), it.body, it.contentType, it.remoteAddr,
          ],
        });
        for (const d of it.deliveries) {
          await tx.execute({
            sql: `INSERT INTO deliveries (id, event_id, target, status, attempts, next_attempt_at, created_at, updated_at)
                  VALUES (?, ?, ?, ?, 0, ?, ?, ?)`,
            args: [d.id, it.id, d.target, d.status, it.receivedAt, it.receivedAt, it.receivedAt],
          });
        }
        if (it.dedupeWindowMs > 0) inBatch.set(batchKey, it.id);
        c.received++;
        outcomes.push({ kind: "stored", id: it.id });
      }
      for (const r of rejections) {
        count(r.source).rejected++;
        if (!r.keep) continue;
        await tx.execute({
          sql: `INSERT INTO rejections (id, source, received_at, reason, method, path, headers, body_excerpt, remote_addr)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          args: [r.id, r.source, r.receivedAt, r.reason, r.method, r.path, JSON.stringify(r.headers), r.bodyExcerpt, r.remoteAddr],
        });
      }
      for (const [source, c] of counters) {
        await tx.execute({
          sql: `INSERT INTO source_counters (source, received, duplicates, rejected) VALUES (?, ?, ?, ?)
                ON CONFLICT (source) DO UPDATE SET received = received + excluded.received,
                  duplicates = duplicates + excluded.duplicates, rejected = rejected + excluded.rejected`,
          args: [source, c.received, c.duplicates, c.rejected],
        });
      }
      await tx.commit();
      return outcomes;
    } catch (err) {
      tx.close();
      throw err;
    }
  }
}
