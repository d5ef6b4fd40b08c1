/**
 * Stores on real SQLite files in temp dirs, with the real migrations, for
 * tests of store functions: each test file calls `tempStores()` once and
 * gets fresh stores that are closed and deleted after each test.
 */
import { afterEach } from "bun:test";
import { join } from "node:path";
import { openStore, type Store, type StoreOptions } from "../../src/store/index.ts";
import { tempDir } from "./relay.ts";

/** Registers the clean-up and returns a function that opens a fresh store (`opts` override the defaults). */
export function tempStores(prefix: string): (opts?: Partial<StoreOptions>) => Promise<Store> {
  const open: { store: Store; dir: ReturnType<typeof tempDir> }[] = [];
  afterEach(async () => {
    for (const { store, dir } of open.splice(0)) {
      await store.close();
      dir.remove();
    }
  });
  return async (opts = {}) => {
    const dir = tempDir(prefix);
    const store = await openStore({ url: `file:${join(dir.dir, "t.db")}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0, ...opts });
    open.push({ store, dir });
    return store;
  };
}
