/**
 * `hookrelay backup --to PATH`: an online, consistent copy of an embedded
 * store (store/backup.ts), safe beside a serving relay, which it never holds
 * up. The copy is written 0600 under a temporary name and moved into place
 * once complete and fsynced; it is a working store (start a relay on it).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { counted, sizeText } from "../core/quantity-text.ts";
import { copyStoreInto } from "../store/backup.ts";
import { isPostgresUrl, openStoreReader, type StoreReader } from "../store/index.ts";
import { parseFlags } from "./args.ts";
import { loadConfigOrReport } from "./load-config.ts";
import { startOutputFile } from "./output-file.ts";

/** Exit 0 after printing the copy's path, size and event count; 1 on a bad config, store or path; 2 on bad flags. */
export async function runBackup(args: string[]): Promise<number> {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" }, to: { type: "string" }, force: { type: "boolean" } });
  if (!parsed) return 2;
  const to = parsed.values.to as string | undefined;
  if (!to) {
    process.stderr.write("hookrelay backup: --to PATH is required (where to write the copy)\n");
    return 2;
  }
  const loaded = await loadConfigOrReport(parsed.values.config as string | undefined);
  if (!loaded) return 1;
  const { store: storeConfig } = loaded.config;
  // Before connecting: the answer does not depend on the database being up.
  if (isPostgresUrl(storeConfig.url)) {
    process.stderr.write(
      "hookrelay backup: the store is a PostgreSQL database; back it up with pg_dump (docs/OPERATIONS.md), or copy its events with hookrelay export\n",
    );
    return 1;
  }
  let store: StoreReader;
  try {
    store = await openStoreReader({ url: storeConfig.url, password: storeConfig.password, busyTimeoutMs: storeConfig.busyTimeoutMs });
  } catch (err) {
    process.stderr.write(`hookrelay backup: cannot open the store: ${(err as Error).message}\n`);
    return 1;
  }
  if (store.filePath === null) {
    store.close();
    process.stderr.write("hookrelay backup: the store is not an embedded file; back it up with its server's own tools (or use hookrelay export)\n");
    return 1;
  }
  const out = startOutputFile(to, parsed.values.force === true, store.filePath);
  if (!out.ok) {
    store.close();
    process.stderr.write(`hookrelay backup: ${out.error}\n`);
    return 1;
  }
  const file = out.file;
  let events: number;
  try {
    events = await copyStoreInto(store, file.tmpPath, storeConfig.busyTimeoutMs);
  } catch (err) {
    file.abort();
    process.stderr.write(`hookrelay backup: the copy failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    store.close();
  }
  const failed = file.commit();
  if (failed) {
    process.stderr.write(`hookrelay backup: ${failed}\n`);
    return 1;
  }
  const bytes = statSync(file.path).size;
  // Which store was copied, in full: a relative store path is read from the working directory,
  // and a job run from another one copies another store (or none).
  process.stdout.write(`backup of ${resolve(store.filePath)} written to ${file.path}: ${sizeText(bytes)}, ${counted(events, "event", "events")}\n`);
  return 0;
}

