CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`params` text NOT NULL,
	`total` integer NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`affected` integer DEFAULT 0 NOT NULL,
	`cursor` text,
	`lease_id` text,
	`lease_until` integer,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `jobs_running` ON `jobs` (`created_at`) WHERE status = 'running';--> statement-breakpoint
DROP INDEX `deliveries_attention`;--> statement-breakpoint
DROP INDEX `deliveries_target_attention`;--> statement-breakpoint
CREATE INDEX `deliveries_attention` ON `deliveries` (`status`,`event_id`) WHERE status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled';--> statement-breakpoint
CREATE INDEX `deliveries_target_attention` ON `deliveries` (`target`,`status`,`event_id`) WHERE status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled';