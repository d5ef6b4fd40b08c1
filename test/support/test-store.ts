/**
 * The engine the store-backed suites run on: the embedded file by default;
 * PostgreSQL when HOOKRELAY_TEST_STORE=postgres and HOOKRELAY_TEST_PG_URL
 * names a cluster (scripts/test-postgres.ts starts one and runs the suites
 * with both set). One matrix: the same tests, a different store URL.
 */
import { join } from "node:path";
import { createDatabase } from "./pg-cluster.ts";

export const onPostgres = process.env.HOOKRELAY_TEST_STORE === "postgres";

/** A fresh, empty store's URL: a file in `dir`, or a new database on the test cluster. */
export async function freshStoreUrl(dir: string, file = "t.db"): Promise<{ url: string; drop(): Promise<void> }> {
  if (!onPostgres) return { url: `file:${join(dir, file)}`, drop: async () => {} };
  const base = process.env.HOOKRELAY_TEST_PG_URL;
  if (!base) throw new Error("HOOKRELAY_TEST_STORE=postgres needs HOOKRELAY_TEST_PG_URL (run: bun scripts/test-postgres.ts)");
  return createDatabase(base.endsWith("/") ? base : `${base}/`);
}
