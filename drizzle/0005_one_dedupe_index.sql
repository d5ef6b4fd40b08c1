DROP INDEX `events_dedupe_key`;--> statement-breakpoint
DROP INDEX `events_dedupe`;--> statement-breakpoint
CREATE INDEX `events_dedupe` ON `events` (`dedupe_key`,`source`,`received_at`);