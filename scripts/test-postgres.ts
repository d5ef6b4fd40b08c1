/**
 * The PostgreSQL half of the test matrix: starts a throwaway cluster
 * (test/support/pg-cluster.ts), runs the store, ingest, delivery and admin
 * suites against it (the same tests as on the embedded file; each test gets
 * a database of its own), and stops the cluster. Extra arguments are passed
 * to `bun test` (e.g. a path filter). Tests in test/postgres/ are about
 * PostgreSQL itself: they run only in this half (skipped in the file half,
 * whose output says so), and one that stops its database starts a cluster
 * of its own.
 */
import { postgresBinDir, startPgCluster } from "../test/support/pg-cluster.ts";

/** The suites whose tests run on both engines. */
export const PG_SUITES = ["src/store", "src/delivery", "src/jobs", "src/http", "test/ingest", "test/delivery", "test/jobs", "test/postgres"];

// `npm test` runs this half after the file's: a machine without PostgreSQL skips it, saying so;
// CI (.ci/run) installs PostgreSQL and sets HOOKRELAY_REQUIRE_POSTGRES, so there it can never be skipped.
if (postgresBinDir() === null) {
  const why = "PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL half of the test matrix";
  if (process.env.HOOKRELAY_REQUIRE_POSTGRES) {
    process.stderr.write(`${why} cannot run, and HOOKRELAY_REQUIRE_POSTGRES is set\n`);
    process.exit(1);
  }
  process.stderr.write(`${why} is SKIPPED\n`);
  process.exit(0);
}

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
