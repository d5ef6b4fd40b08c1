CREATE INDEX `attempts_target_at` ON `attempts` (`target`,`at`);--> statement-breakpoint
CREATE INDEX `events_source_id` ON `events` (`source`,`id`);--> statement-breakpoint
CREATE INDEX `events_type_id` ON `events` (`event_type`,`id`);--> statement-breakpoint
CREATE INDEX `events_dedupe_key` ON `events` (`dedupe_key`);