ALTER TABLE `attempts` ADD `request` text;--> statement-breakpoint
ALTER TABLE `deliveries` ADD `origin` text;