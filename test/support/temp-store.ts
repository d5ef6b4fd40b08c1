/**
 * Stores on real SQLite files in temp dirs (or fresh PostgreSQL databases,
 * test-store.ts), with the real migrations, for tests of store functions:
 * each test file calls `tempStores()` once and gets fresh stores that are
 * closed and deleted after each test.
 */
import { afterEach } from "bun:test";
import { freshStoreUrl } from "./test-store.ts";
import { openStore, type Store, type StoreOptions } from "../../src/store/index.ts";
import { tempDir } from "./relay.ts";

/** Registers the clean-up and returns a function that opens a fresh store (`opts` override the defaults). */
export function tempStores(prefix: string): (opts?: Partial<StoreOptions>) => Promise<Store> {
  const open: { store: Store; dir: ReturnType<typeof tempDir>; drop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const { store, dir, drop } of open.splice(0)) {
      await store.close();
      await drop();
      dir.remove();
    }
  });
  return async (opts = {}) => {
    const dir = tempDir(prefix);
    const { url, drop } = await freshStoreUrl(dir.dir);
    const store = await openStore({ url, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0, ...opts });
    open.push({ store, dir, drop });
    return store;
  };
}
