CREATE TABLE `overview_buckets` (
	`start_ms` integer NOT NULL,
	`series` text NOT NULL,
	`key` text NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`start_ms`, `series`, `key`)
);
