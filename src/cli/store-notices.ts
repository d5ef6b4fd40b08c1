import type { Logger } from "../log/logger.ts";
import { NEW_STORE_CREATED, STORE_SCHEMA_UPDATED } from "../store/migrate.ts";

/**
 * The store's own log lines, for a command that is not the relay (`import`,
 * `replay`): as that command's stderr lines. A new store or a schema update
 * must not pass in silence — an import run from the wrong directory fills a
 * store no relay reads, and an updated schema locks older builds out.
 *
 * @example storeNotices("import").info("store schema updated", { store: "/x.db", migrations: ["0015_y"] }) // stderr: hookrelay import: /x.db: schema updated (0015_y)
 */
export function storeNotices(command: string, write: (line: string) => void = (line) => void process.stderr.write(line)): Logger {
  const say = (msg: string, fields: Record<string, unknown> = {}) => {
    const store = String(fields.store ?? "the store");
    if (msg === NEW_STORE_CREATED) {
      // A database is made by its operator; what is new there is the relay's tables.
      const what = /^postgres(ql)?:/.test(store) ? "had no hookrelay tables: they were created" : "did not exist: a new store was created there";
      return write(`hookrelay ${command}: ${store} ${what}\n`);
    }
    if (msg === STORE_SCHEMA_UPDATED) return write(`hookrelay ${command}: ${store}: schema updated (${(fields.migrations as string[]).join(", ")}); builds older than this one no longer open it\n`);
    write(`hookrelay ${command}: ${msg} ${JSON.stringify(fields)}\n`);
  };
  return { debug: () => {}, info: say, warn: say, error: say };
}
