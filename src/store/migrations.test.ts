import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderMigrationsModule } from "../../scripts/embed-migrations.ts";

test("the embedded migrations are exactly drizzle-kit's generated ones (run `npm run db:generate` after a schema change)", () => {
  const embedded = readFileSync(join(import.meta.dir, "migrations.gen.ts"), "utf8");
  expect(embedded).toBe(renderMigrationsModule());
});
