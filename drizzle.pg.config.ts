import { defineConfig } from "drizzle-kit";

// PostgreSQL: the same tables (src/store/postgres/schema.ts), migrations in drizzle/pg/.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/store/postgres/schema.ts",
  out: "./drizzle/pg",
});
