CREATE TABLE "attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"delivery_id" text NOT NULL,
	"event_id" text NOT NULL,
	"target" text NOT NULL,
	"at" bigint NOT NULL,
	"status_code" integer,
	"duration_ms" integer NOT NULL,
	"error" text,
	"response_excerpt" text,
	"request" text
);
--> statement-breakpoint
CREATE TABLE "dedupe_keys" (
	"source" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"event_id" text NOT NULL,
	"received_at" bigint NOT NULL,
	"window_ms" bigint NOT NULL,
	CONSTRAINT "dedupe_keys_source_dedupe_key_pk" PRIMARY KEY("source","dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"target" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"lease_id" text,
	"lease_until" bigint,
	"last_error" text,
	"origin" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"event_type" text,
	"dedupe_key" text NOT NULL,
	"received_at" bigint NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"query" text NOT NULL,
	"headers" text,
	"body" "bytea",
	"content_type" text,
	"remote_addr" text,
	"duplicates" integer DEFAULT 0 NOT NULL,
	"last_duplicate_at" bigint,
	"erased_at" bigint,
	"unrouted" integer,
	"search" "tsvector"
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"params" text NOT NULL,
	"total" integer NOT NULL,
	"done" integer DEFAULT 0 NOT NULL,
	"affected" integer DEFAULT 0 NOT NULL,
	"cursor" text,
	"lease_id" text,
	"lease_until" bigint,
	"error" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"finished_at" bigint
);
--> statement-breakpoint
CREATE TABLE "overview_buckets" (
	"start_ms" bigint NOT NULL,
	"series" text NOT NULL,
	"key" text NOT NULL,
	"value" bigint NOT NULL,
	CONSTRAINT "overview_buckets_start_ms_series_key_pk" PRIMARY KEY("start_ms","series","key")
);
--> statement-breakpoint
CREATE TABLE "rejections" (
	"id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"received_at" bigint NOT NULL,
	"reason" text NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"headers" text NOT NULL,
	"body_excerpt" "bytea",
	"remote_addr" text
);
--> statement-breakpoint
CREATE TABLE "source_counters" (
	"source" text PRIMARY KEY NOT NULL,
	"received" bigint DEFAULT 0 NOT NULL,
	"duplicates" bigint DEFAULT 0 NOT NULL,
	"rejected" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "target_state" (
	"name" text PRIMARY KEY NOT NULL,
	"disabled" integer DEFAULT 0 NOT NULL,
	"disabled_reason" text,
	"disabled_by" text,
	"last_error" text,
	"last_error_at" bigint,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"failing_since" bigint,
	"circuit_open_until" bigint,
	"updated_at" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "attempts_delivery" ON "attempts" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "attempts_at" ON "attempts" USING btree ("at");--> statement-breakpoint
CREATE INDEX "attempts_target_at" ON "attempts" USING btree ("target","at");--> statement-breakpoint
CREATE INDEX "dedupe_keys_received" ON "dedupe_keys" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "deliveries_due" ON "deliveries" USING btree ("target","next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "deliveries_open" ON "deliveries" USING btree ("status","target","created_at") WHERE status = 'pending' OR status = 'delivering' OR status = 'paused';--> statement-breakpoint
CREATE INDEX "deliveries_event" ON "deliveries" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "deliveries_target_event" ON "deliveries" USING btree ("target","event_id");--> statement-breakpoint
CREATE INDEX "deliveries_attention" ON "deliveries" USING btree ("status","event_id") WHERE status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled';--> statement-breakpoint
CREATE INDEX "deliveries_target_attention" ON "deliveries" USING btree ("target","status","event_id") WHERE status = 'pending' OR status = 'failed' OR status = 'paused' OR status = 'cancelled';--> statement-breakpoint
CREATE INDEX "events_dedupe" ON "events" USING btree ("dedupe_key","source","received_at");--> statement-breakpoint
CREATE INDEX "events_source_id" ON "events" USING btree ("source","id");--> statement-breakpoint
CREATE INDEX "events_type_id" ON "events" USING btree ("event_type","id");--> statement-breakpoint
CREATE INDEX "events_unrouted" ON "events" USING btree ("id") WHERE unrouted = 1;--> statement-breakpoint
CREATE INDEX "events_search" ON "events" USING gin ("search");--> statement-breakpoint
CREATE INDEX "events_unindexed" ON "events" USING btree ("id") WHERE search IS NULL;--> statement-breakpoint
CREATE INDEX "jobs_running" ON "jobs" USING btree ("created_at") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "rejections_source_at" ON "rejections" USING btree ("source","received_at");--> statement-breakpoint
CREATE INDEX "rejections_at" ON "rejections" USING btree ("received_at");