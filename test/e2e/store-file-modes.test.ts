/**
 * The store holds every raw request (bodies, headers): the compiled binary
 * creates it readable by its own user only, for `serve` and for `dev`.
 */
import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { relayToml, scratchDir, serveBinary } from "../support/fault-harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const tmp = scratchDir("hookrelay-modes-");
  cleanups.push(tmp.remove);
  return tmp.dir;
}

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** The modes of a store file, its WAL and shared-memory files and their directory. */
function storeModes(db: string) {
  return { dir: modeOf(join(db, "..")), db: modeOf(db), wal: modeOf(`${db}-wal`), shm: modeOf(`${db}-shm`) };
}

async function stopAfter(bin: RunningBinary) {
  cleanups.push(() => (bin.proc.exitCode === null ? bin.stop() : undefined));
  return bin;
}

test("serve on a fresh directory creates the store directory 0700 and the store, -wal and -shm files 0600", async () => {
  const cwd = dir();
  const bin = await stopAfter(await serveBinary(cwd, relayToml({ storeUrl: "file:./data/relay.db" })));
  expect(storeModes(join(cwd, "data/relay.db"))).toEqual({ dir: "700", db: "600", wal: "600", shm: "600" });
  expect(await bin.stop()).toBe(0);
});

test("dev on a fresh directory creates ./.hookrelay 0700 and the store, -wal and -shm files 0600", async () => {
  const cwd = dir();
  const bin = await stopAfter(await startBinary(["dev", "--forward-to", "http://127.0.0.1:9/hooks", "--port", "0", "--admin-port", "0"], cwd));
  expect(storeModes(join(cwd, ".hookrelay/hookrelay.db"))).toEqual({ dir: "700", db: "600", wal: "600", shm: "600" });
  expect(modeOf(join(cwd, ".hookrelay/signing-secret"))).toBe("600");
  expect(await bin.stop()).toBe(0);
});
