DROP INDEX `deliveries_due`;--> statement-breakpoint
DROP INDEX `events_received`;--> statement-breakpoint
DROP INDEX `events_source_received`;--> statement-breakpoint
DROP INDEX `events_type_received`;