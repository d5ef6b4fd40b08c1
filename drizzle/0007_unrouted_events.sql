ALTER TABLE `events` ADD `unrouted` integer;--> statement-breakpoint
CREATE INDEX `events_unrouted` ON `events` (`id`) WHERE unrouted = 1;