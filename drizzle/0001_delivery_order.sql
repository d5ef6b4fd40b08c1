ALTER TABLE `target_state` ADD `disabled_by` text;--> statement-breakpoint
CREATE INDEX `deliveries_target_order` ON `deliveries` (`target`,`status`,`created_at`);