/**
 * The full-text indexer: the tail of the inbound pipeline, off the ack path.
 * It reads committed events in small batches (store/search-index.ts: new
 * ones first, then on the file those stored before the index existed,
 * newest first), turns each into its searchable text (core/search-text.ts,
 * Content-Encoding undone as at ingest) and writes the batch through the one
 * writer as a redoable job, which joins a group transaction like any other.
 *
 * Ingest comes first. Caught up (nothing past the batch it took), the indexer
 * looks again after `everyMs`: at 1,000 events/s that is one batch of ~200
 * events every 200 ms, so an event is searchable well within 2 s of its ack.
 * Behind (more waiting: a burst, a backfill, a relay running at saturation),
 * it pauses `pauseFactor` times as long as the batch took, so it takes about a
 * twentieth of the time however far behind it is, and catches up once ingest
 * slows down (bench/ab.ts BENCH_NO_SEARCH, docs/PERFORMANCE.md).
 */
import { searchTextOf } from "../core/search-text.ts";
import type { Logger } from "../log/logger.ts";
import { nextIndexBatch, writeIndexBatch, type EventToIndex, type IndexDirection, type IndexedText } from "../store/search-index.ts";
import type { SqlDoors } from "../store/sql-client.ts";
import { decodeBody } from "./decode-body.ts";
import { isStoreUnreachable } from "../store/errors.ts";

export interface SearchIndexerOptions {
  store: SqlDoors;
  log: Logger;
  /** Cap on a body's decoded size (server.max_body, as at ingest). */
  maxDecodedBytes: number;
  /** Idle poll period. Default 200 ms. */
  everyMs?: number;
  /** Events per batch at most. Default 256. */
  batchRows?: number;
  /** Body bytes per batch at most (one larger event still goes alone). Default 4 MiB. */
  batchBytes?: number;
  /** Pause after a batch with more waiting, as a multiple of the time it took. Default 19. */
  pauseFactor?: number;
}

/** The running indexer. */
export interface SearchIndexer {
  /** Indexes every event waiting now, without pauses; how many events it looked at (tests, tools). */
  drain(): Promise<number>;
  /** Ends the loop after the batch in progress. */
  stop(): Promise<void>;
}

/** Starts indexing in the background. */
export function startSearchIndexer(opts: SearchIndexerOptions): SearchIndexer {
  const everyMs = opts.everyMs ?? 200;
  const limits = { maxRows: opts.batchRows ?? 256, maxBytes: opts.batchBytes ?? 4 * 1024 * 1024 };
  const pauseFactor = opts.pauseFactor ?? 19;
  let stopped = false;
  let failing = false;
  let wakeUp: (() => void) | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  // One batch at a time, whoever asks (the loop or drain()).
  let chain: Promise<unknown> = Promise.resolve();

  const textOf = async (ev: EventToIndex): Promise<IndexedText> => {
    const encoding = ev.headers?.find(([name]) => name.toLowerCase() === "content-encoding")?.[1] ?? null;
    const decoded = ev.body === null ? null : await decodeBody(ev.body, encoding, opts.maxDecodedBytes);
    // A body that cannot be decoded is still searched by its header values.
    const body = decoded?.ok ? decoded.body : null;
    return { id: ev.id, text: searchTextOf({ headers: ev.headers, query: ev.query, body, contentType: ev.contentType }) };
  };

  // One batch, new events first: how many events it looked at (0: nothing waits), and whether more wait.
  const indexOneBatch = (): Promise<{ n: number; more: boolean }> => {
    const run = chain.then(async () => {
      for (const direction of ["new", "backfill"] as IndexDirection[]) {
        const batch = await nextIndexBatch(opts.store.reads, direction, limits);
        if (batch === null) continue;
        const texts = await Promise.all(batch.events.map(textOf));
        // Lost to another relay on the store: it indexed them; the next read starts past them.
        await writeIndexBatch(opts.store.writer, batch, texts);
        return { n: batch.events.length, more: batch.more };
      }
      return { n: 0, more: false };
    });
    chain = run.catch(() => {});
    return run;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wakeUp = resolve;
      timer = setTimeout(resolve, ms);
    });

  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      let more = false;
      try {
        more = (await indexOneBatch()).more;
        if (failing) opts.log.info("search indexing resumed");
        failing = false;
      } catch (err) {
        // A busy or full store: the events stay unindexed and are taken again.
        // An unreachable database is logged once by the store (lost / back).
        if (!isStoreUnreachable(err)) {
          if (!failing) opts.log.warn("search indexing failed", { error: String((err as Error).message ?? err) });
          failing = true;
        }
      }
      if (stopped) break;
      await sleep(more && !failing ? Math.max(1, (performance.now() - started) * pauseFactor) : everyMs);
    }
  })();

  return {
    async drain() {
      let total = 0;
      for (let b = await indexOneBatch(); b.n > 0; b = await indexOneBatch()) total += b.n;
      return total;
    },
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      wakeUp?.();
      await loop;
    },
  };
}
