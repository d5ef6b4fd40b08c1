CREATE TABLE `attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`event_id` text NOT NULL,
	`target` text NOT NULL,
	`at` integer NOT NULL,
	`status_code` integer,
	`duration_ms` integer NOT NULL,
	`error` text,
	`response_excerpt` text
);
--> statement-breakpoint
CREATE INDEX `attempts_delivery` ON `attempts` (`delivery_id`);--> statement-breakpoint
CREATE INDEX `attempts_at` ON `attempts` (`at`);--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`target` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_id` text,
	`lease_until` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_target_due` ON `deliveries` (`target`,`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_event` ON `deliveries` (`event_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`event_type` text,
	`dedupe_key` text NOT NULL,
	`received_at` integer NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`query` text NOT NULL,
	`headers` text,
	`body` blob,
	`content_type` text,
	`remote_addr` text,
	`duplicates` integer DEFAULT 0 NOT NULL,
	`last_duplicate_at` integer,
	`erased_at` integer
);
--> statement-breakpoint
CREATE INDEX `events_dedupe` ON `events` (`source`,`dedupe_key`,`received_at`);--> statement-breakpoint
CREATE INDEX `events_received` ON `events` (`received_at`);--> statement-breakpoint
CREATE INDEX `events_source_received` ON `events` (`source`,`received_at`);--> statement-breakpoint
CREATE INDEX `events_type_received` ON `events` (`event_type`,`received_at`);--> statement-breakpoint
CREATE TABLE `rejections` (
	`id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`received_at` integer NOT NULL,
	`reason` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`headers` text NOT NULL,
	`body_excerpt` blob,
	`remote_addr` text
);
--> statement-breakpoint
CREATE INDEX `rejections_source_at` ON `rejections` (`source`,`received_at`);--> statement-breakpoint
CREATE INDEX `rejections_at` ON `rejections` (`received_at`);--> statement-breakpoint
CREATE TABLE `source_counters` (
	`source` text PRIMARY KEY NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`duplicates` integer DEFAULT 0 NOT NULL,
	`rejected` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `target_state` (
	`name` text PRIMARY KEY NOT NULL,
	`disabled` integer DEFAULT false NOT NULL,
	`disabled_reason` text,
	`last_error` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`failing_since` integer,
	`circuit_open_until` integer,
	`updated_at` integer DEFAULT 0 NOT NULL
);
