ALTER TABLE `attempts` ADD `request` text;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `origin` text;--> statement-breakpoint
ALTER TABLE `target_state` ADD `last_error_at` integer;