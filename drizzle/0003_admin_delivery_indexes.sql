CREATE INDEX `deliveries_status_event` ON `deliveries` (`status`,`event_id`);--> statement-breakpoint
CREATE INDEX `deliveries_target_status_event` ON `deliveries` (`target`,`status`,`event_id`);--> statement-breakpoint
CREATE INDEX `deliveries_target_event` ON `deliveries` (`target`,`event_id`);