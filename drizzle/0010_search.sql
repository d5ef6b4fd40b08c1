-- Full-text search over stored requests (store/search-index.ts, ingest/search-indexer.ts).
-- events_fts: contentless (the text is not stored twice, only its index), keyed by the
-- events rowid; contentless_delete lets erase and retention delete an event's entry.
-- Diacritics folded: "cafe" finds "café".
CREATE VIRTUAL TABLE `events_fts` USING fts5(`text`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
-- Where the indexer stands, shared by every relay on the store (one row): events with
-- rowid in [lo, hi] are indexed. New events are indexed upward from hi; events stored
-- before this migration (rowid < lo) are backfilled downward from lo, newest first.
CREATE TABLE `search_state` (
	`id` integer PRIMARY KEY NOT NULL CHECK (`id` = 1),
	`hi` integer NOT NULL,
	`lo` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `search_state` (`id`, `hi`, `lo`) SELECT 1, coalesce(max(rowid), 0), coalesce(max(rowid), 0) + 1 FROM `events`;
--> statement-breakpoint
-- An event's words leave the index with it, whoever deletes it (retention, or any later
-- tool): its rowid may be used again by a new event. A store emptied at the top also pulls
-- the watermarks down, so the rowids used again are indexed as new events.
CREATE TRIGGER `events_fts_on_delete` AFTER DELETE ON `events` BEGIN
	DELETE FROM `events_fts` WHERE rowid = old.rowid;
	UPDATE `search_state` SET `hi` = (SELECT coalesce(max(rowid), 0) FROM `events`), `lo` = min(`lo`, (SELECT coalesce(max(rowid), 0) FROM `events`) + 1)
		WHERE `id` = 1 AND `hi` > (SELECT coalesce(max(rowid), 0) FROM `events`);
END;
--> statement-breakpoint
-- Erasing an event removes its words from the index (the indexer never adds an erased one).
CREATE TRIGGER `events_fts_on_erase` AFTER UPDATE OF `erased_at` ON `events` WHEN new.`erased_at` IS NOT NULL BEGIN
	DELETE FROM `events_fts` WHERE rowid = new.rowid;
END;
