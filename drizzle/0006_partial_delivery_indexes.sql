DROP INDEX `deliveries_target_due`;--> statement-breakpoint
DROP INDEX `deliveries_target_order`;--> statement-breakpoint
DROP INDEX `deliveries_status_event`;--> statement-breakpoint
DROP INDEX `deliveries_target_status_event`;--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`target`,`next_attempt_at`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `deliveries_open` ON `deliveries` (`status`,`target`,`created_at`) WHERE status = 'pending' OR status = 'delivering' OR status = 'paused';--> statement-breakpoint
CREATE INDEX `deliveries_attention` ON `deliveries` (`status`,`event_id`) WHERE status = 'pending' OR status = 'failed' OR status = 'paused';--> statement-breakpoint
CREATE INDEX `deliveries_target_attention` ON `deliveries` (`target`,`status`,`event_id`) WHERE status = 'pending' OR status = 'failed' OR status = 'paused';