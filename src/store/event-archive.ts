/**
 * `[store] archive`: where retention puts events before it deletes them. One
 * file per UTC day of the events' receive time, `events-YYYY-MM-DD.ndjson.gz`,
 * in the export format (core/export-line.ts), so `hookrelay import` takes a
 * file back as it is. Each purge batch appends one gzip member per day it
 * touches (concatenated members are one valid gzip stream: zcat, gunzip and
 * import read them whole) and fsyncs it before retention deletes anything: an
 * event is deleted only once its line is on disk. A write that fails is cut
 * off again (the file is truncated to its size before the append), so a
 * failed batch never leaves a broken member that would hide later ones.
 */
import { mkdir, open } from "node:fs/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { join } from "node:path";
import { exportLine } from "../core/export-line.ts";
import { readExportedEvents, type TransferReader } from "./event-transfer.ts";

// Async (zlib's thread pool, fs/promises): compressing and fsyncing a batch never blocks the event loop that acks requests.
const gzipAsync = promisify(gzip);

/** Archives the events with these ids; resolves once they are on disk, rejects (naming the file) when they could not be. */
export type EventArchive = (ids: string[]) => Promise<void>;

/** An archive writing into `dir` (created 0700 on first use; files 0600: they hold raw requests like the store), reading through `reads` (a StoreReader's). */
export function createEventArchive(opts: { dir: string; reads: TransferReader }): EventArchive {
  return async (ids) => {
    const events = await readExportedEvents(opts.reads, ids);
    const byDay = new Map<string, string[]>();
    for (const e of events) {
      const day = new Date(e.receivedAt).toISOString().slice(0, 10);
      const lines = byDay.get(day) ?? [];
      lines.push(`${exportLine(e)}\n`);
      byDay.set(day, lines);
    }
    if (byDay.size === 0) return;
    try {
      await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(`archive ${opts.dir}: ${(err as Error).message}`, { cause: err });
    }
    for (const [day, lines] of byDay) await appendMember(join(opts.dir, `events-${day}.ndjson.gz`), lines.join(""));
  };
}

async function appendMember(path: string, text: string): Promise<void> {
  const member = await gzipAsync(Buffer.from(text));
  let file;
  try {
    file = await open(path, "a", 0o600);
  } catch (err) {
    throw new Error(`archive ${path}: ${(err as Error).message}`, { cause: err });
  }
  const before = (await file.stat()).size;
  try {
    // One write call: appends of several relays sharing the store do not interleave inside a member.
    const { bytesWritten } = await file.write(member, 0, member.length);
    if (bytesWritten !== member.length) throw new Error(`short write (${bytesWritten} of ${member.length} bytes)`);
    await file.sync();
    if (before === 0) await syncDirOf(path);
  } catch (err) {
    await file.truncate(before).catch(() => {});
    throw new Error(`archive ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await file.close();
  }
}

/** A new file's directory entry survives a power cut only once the directory is fsynced. */
async function syncDirOf(path: string): Promise<void> {
  const dir = await open(join(path, ".."), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
