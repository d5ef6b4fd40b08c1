/**
 * `hookrelay import FILE`: stores exported events again (NDJSON, or an
 * archive's .gz), read a line at a time and written through the store's
 * writer in small batches, so that a relay serving the same store waits at
 * most one batch's commit for the write lock. A bad line is reported with its
 * number and skipped whole; events already stored are skipped.
 */
import { constants, createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { parseExportLine, type ExportedEvent } from "../core/export-line.ts";
import { importEvents } from "../store/event-transfer.ts";
import { openStore, type Writer } from "../store/index.ts";
import { storeNotices } from "./store-notices.ts";
import { parseFlags } from "./args.ts";
import { loadConfigOrReport } from "./load-config.ts";

/**
 * Events per write job at most, and body bytes per job at most: each job is
 * one savepoint of one commit, and a relay sharing the store waits for it.
 */
const BATCH_EVENTS = 200;
const IMPORT_PAUSE_MIN_MS = 25;
const FUTURE_SLACK_MS = 24 * 3600_000;
const BATCH_BYTES = 4 * 1024 * 1024;

export interface ImportCounts {
  imported: number;
  skipped: number;
  bad: { line: number; reason: string }[];
}

/** Exit 0 when every line was imported or skipped; 1 when a line was bad or the store failed; 2 on bad flags. */
export async function runImport(args: string[]): Promise<number> {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" } }, true);
  if (!parsed) return 2;
  if (parsed.positionals.length !== 1) {
    process.stderr.write("hookrelay import: expected one FILE (an export's NDJSON, or an archive's .ndjson.gz)\n");
    return 2;
  }
  const path = parsed.positionals[0]!;
  const loaded = await loadConfigOrReport(parsed.values.config as string | undefined);
  if (!loaded) return 1;
  const { config } = loaded;
  const input = await openLines(path);
  if (!input.ok) {
    process.stderr.write(`hookrelay import: ${input.error}\n`);
    return 1;
  }
  let store;
  try {
    // The relay's own writer thread (statements kept prepared) and checkpointer (the WAL does not grow with the whole import).
    // A store created (a new machine's first import) or updated is said (storeNotices).
    store = await openStore({ url: config.store.url, password: config.store.password, busyTimeoutMs: config.store.busyTimeoutMs, nowMs: Date.now, log: storeNotices("import") });
  } catch (err) {
    process.stderr.write(`hookrelay import: cannot open the store: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const windows = new Map(config.sources.map((s) => [s.name, s.dedupeWindowMs]));
    const counts = await importLines(store.writer, input.lines, Date.now, (source) => windows.get(source) ?? 0);
    for (const b of counts.bad) process.stderr.write(`line ${b.line}: ${b.reason}\n`);
    process.stdout.write(`imported ${counts.imported}, skipped ${counts.skipped}, bad lines ${counts.bad.length}\n`);
    return counts.bad.length > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`hookrelay import: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

/**
 * The file's lines (gunzipped when it ends in .gz: concatenated members read as
 * one stream); an error naming the path when it cannot be read. The lines are
 * read only once iterated: readline emits whatever arrives, and lines (or the
 * end) emitted before a consumer attaches would be lost — a store that takes a
 * moment to open lost the first lines, or hung the import, that way.
 */
async function openLines(path: string): Promise<{ ok: true; lines: AsyncIterable<string> } | { ok: false; error: string }> {
  try {
    await access(path, constants.R_OK);
  } catch (err) {
    return { ok: false, error: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}` };
  }
  async function* lines() {
    const stream = createReadStream(path);
    try {
      yield* createInterface({ input: path.endsWith(".gz") ? stream.pipe(createGunzip()) : stream, crlfDelay: Infinity });
    } catch (err) {
      // zlib's own words for a file that is not gzip at all.
      const notGzip = (err as NodeJS.ErrnoException).code === "Z_DATA_ERROR" && (err as Error).message === "incorrect header check";
      throw new Error(`${path}: ${notGzip ? "not a gzip file (its name ends in .gz: rename a plain export to .ndjson)" : (err as Error).message}`, { cause: err });
    }
  }
  return { ok: true, lines: lines() };
}

/**
 * What a constraint the store refused a line for means to the person importing,
 * or null when `err` is not a constraint. An event whose own id is stored is
 * skipped, not refused: what collides is a delivery's or an attempt's id, already
 * stored under another event (an edited file, or lines from another store).
 */
function constraintRefused(err: unknown): string | null {
  const text = `${(err as { code?: string }).code} ${(err as Error).message}`;
  if (!/SQLITE_CONSTRAINT|constraint failed|violates/i.test(text)) return null;
  // SQLite names "deliveries.id"; PostgreSQL "deliveries_pkey".
  const table = /\b(deliveries|attempts|events)[._]/.exec(text)?.[1];
  if (table === "deliveries" || table === "attempts") return `one of its ${table === "deliveries" ? "deliveries'" : "attempts'"} ids is already stored under another event`;
  return `the store refused it (${(err as Error).message})`;
}

/**
 * Parses and stores `lines` in batches; blank lines are ignored. A batch the
 * store refuses for one event's sake (a constraint) is written again one
 * event at a time, so that only that line is reported. Store failures
 * (locked too long, full, read-only) end the import: what was committed stays,
 * and running it again skips it.
 */
export async function importLines(writer: Writer, lines: AsyncIterable<string>, nowMs: () => number, dedupeWindowMs?: (source: string) => number): Promise<ImportCounts> {
  const counts: ImportCounts = { imported: 0, skipped: 0, bad: [] };
  let batch: { line: number; event: ExportedEvent }[] = [];
  let bytes = 0;
  const flush = async (items: { line: number; event: ExportedEvent }[]) => {
    if (items.length === 0) return;
    try {
      const started = performance.now();
      const stored = await importEvents(writer, items.map((i) => i.event), nowMs(), dedupeWindowMs);
      for (const s of stored) s ? counts.imported++ : counts.skipped++;
      // A relay serving this store waits for the write lock by sleeping and trying again (SQLite's
      // busy handler: 1 ms, then longer, up to 100 ms): batches back to back would always win it, and
      // its acks wait for the whole import. Pausing as long as the batch took (25 ms at least) lets it in.
      await Bun.sleep(Math.max(IMPORT_PAUSE_MIN_MS, performance.now() - started));
    } catch (err) {
      const refused = constraintRefused(err);
      if (refused === null) throw err;
      if (items.length === 1) counts.bad.push({ line: items[0]!.line, reason: `not stored: ${refused}` });
      else for (const item of items) await flush([item]);
    }
  };
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === "") continue;
    const parsed = parseExportLine(text);
    if (!parsed.ok) {
      counts.bad.push({ line: n, reason: parsed.reason });
      continue;
    }
    // A time far ahead (a clock that was wrong, a hand-made line) would keep the event from retention until then.
    if (parsed.event.receivedAt > nowMs() + FUTURE_SLACK_MS) {
      counts.bad.push({ line: n, reason: `receivedAt: ${new Date(parsed.event.receivedAt).toISOString()} is more than a day ahead of this machine's clock` });
      continue;
    }
    batch.push({ line: n, event: parsed.event });
    bytes += parsed.event.request.body?.length ?? 0;
    if (batch.length >= BATCH_EVENTS || bytes >= BATCH_BYTES) {
      await flush(batch);
      batch = [];
      bytes = 0;
    }
  }
  await flush(batch);
  return counts;
}
