DROP INDEX "deliveries_open";--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "seq" bigserial NOT NULL;--> statement-breakpoint
CREATE INDEX "deliveries_open" ON "deliveries" USING btree ("status","target","created_at","seq") WHERE status = 'pending' OR status = 'delivering' OR status = 'paused';