/**
 * The PostgreSQL half of the test matrix: starts a throwaway cluster
 * (test/support/pg-cluster.ts), runs the store, ingest, delivery and admin
 * suites against it (the same tests as on the embedded file; each test gets
 * a database of its own), and stops the cluster. Extra arguments are passed
 * to `bun test` (e.g. a path filter).
 */
import { startPgCluster } from "../test/support/pg-cluster.ts";

/** The suites whose tests run on both engines. */
export const PG_SUITES = ["src/store", "src/delivery", "src/jobs", "src/http", "test/ingest", "test/delivery", "test/jobs", "test/postgres"];

const cluster = await startPgCluster();
let code = 1;
try {
  const args = process.argv.slice(2);
  const proc = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...(args.length > 0 ? args : PG_SUITES)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, HOOKRELAY_TEST_STORE: "postgres", HOOKRELAY_TEST_PG_URL: cluster.baseUrl },
  });
  code = await proc.exited;
} finally {
  await cluster.stop();
}
process.exit(code);
