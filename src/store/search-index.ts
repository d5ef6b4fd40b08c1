/**
 * The full-text index's store side: which events the indexer takes next, and
 * the write that adds their words. Each engine keeps its index its own way:
 *
 * - the embedded file (sqlite/search-index.ts): a contentless FTS5 table keyed
 *   by the events rowid, with watermarks (search_state) that say which rowids
 *   are indexed — new events upward, events stored before the index existed
 *   ("backfill") downward;
 * - PostgreSQL (postgres/search-index.ts): the tsvector column events.search,
 *   null until indexed; the indexer takes the events where it is null, oldest
 *   first, from a partial index of those alone. There is no backfill: an
 *   event stored before the index existed is null like a new one.
 *
 * On both, several relays may read the same batch: only the first write of an
 * event's words counts, and an event erased meanwhile is not indexed.
 */
import type { SqlReader, SqlWriter } from "./sql-client.ts";
import * as sqlite from "./sqlite/search-index.ts";
import * as postgres from "./postgres/search-index.ts";

/** New events first; then, on the file, those stored before the index existed. */
export type IndexDirection = "new" | "backfill";

import type { EventToIndex } from "./events-to-index.ts";
export type { EventToIndex };

/** An event's searchable text, ready to write. */
export interface IndexedText {
  id: string;
  text: string;
}

/** Where a batch was read on the file: its watermark, and the watermark once it is written. */
export interface IndexWatermark {
  direction: IndexDirection;
  mark: number;
  through: number;
}

/** A batch of events to index. */
export interface IndexBatch {
  events: EventToIndex[];
  /** More events wait past this batch (it was cut by the row or byte limit). */
  more: boolean;
  /** The file's watermark the write compares and sets; null on PostgreSQL. */
  watermark: IndexWatermark | null;
}

/** Limits of one batch. */
export interface IndexLimits {
  maxRows: number;
  maxBytes: number;
}

/**
 * The next events to index in `direction`: at most `maxRows`, and no more
 * bodies than `maxBytes` together (at least one event); null when there are none.
 */
export function nextIndexBatch(reads: SqlReader, direction: IndexDirection, limits: IndexLimits): Promise<IndexBatch | null> {
  return (reads.dialect.engine === "postgres" ? postgres : sqlite).nextIndexBatch(reads, direction, limits);
}

/**
 * Writes the texts of `batch`, in one write job; false when another relay
 * indexed these events first (then nothing was written). An event erased or
 * deleted since it was read is not indexed.
 */
export function writeIndexBatch(writer: SqlWriter, batch: IndexBatch, texts: IndexedText[]): Promise<boolean> {
  return (writer.dialect.engine === "postgres" ? postgres : sqlite).writeIndexBatch(writer, batch, texts);
}

/** The assignments (after `SET body = NULL, …`) that take an erased event's words out of the index where a trigger does not. */
export function eraseWordsSet(writer: SqlWriter): string {
  return writer.dialect.engine === "postgres" ? postgres.ERASE_WORDS : "";
}
