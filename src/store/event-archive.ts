/**
 * `[store] archive`: where retention puts events before it deletes them. One
 * file per UTC day of the events' receive time, `events-YYYY-MM-DD.ndjson.gz`,
 * in the export format (core/export-line.ts), so `hookrelay import` takes a
 * file back as it is. Each purge batch appends one gzip member per day it
 * touches (concatenated members are one valid gzip stream: zcat, gunzip and
 * import read them whole) and fsyncs it before retention deletes anything: an
 * event is deleted only once its line is on disk.
 *
 * A member that did not reach the disk whole (a failed write, or a process
 * killed or a machine stopped in the middle of one) must not stay in front
 * of later ones: every reader of a gzip stream stops at the first broken
 * member, and the lines after it would be lost to all of them. Its events
 * were not deleted (the delete follows the fsync), so the next purge
 * archives them again: before appending, the file is cut back to the end of
 * its last whole member. To find that end without inflating a day's file,
 * each member says its own length in its header (an FEXTRA subfield "HR",
 * as bgzip's blocks do; gzip readers skip it), and the last one is inflated
 * to check its trailer. A file's good end is kept once known, so a running
 * relay checks only what changed since its own last append.
 */
import { constants } from "node:fs";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { promisify } from "node:util";
import { createGunzip, gzip } from "node:zlib";
import { join } from "node:path";
import { exportLine } from "../core/export-line.ts";
import { readExportedEvents, type TransferReader } from "./event-transfer.ts";

// Async (zlib's thread pool, fs/promises): compressing and fsyncing a batch never blocks the event loop that acks requests.
const gzipAsync = promisify(gzip);

/** Archives the events with these ids; resolves once they are on disk, rejects (naming the file) when they could not be. */
export type EventArchive = (ids: string[]) => Promise<void>;

/** An archive writing into `dir` (created 0700 on first use; files 0600: they hold raw requests like the store), reading through `reads` (a StoreReader's). */
export function createEventArchive(opts: { dir: string; reads: TransferReader }): EventArchive {
  // Per file: the end of its last whole member, as this process last wrote or checked it.
  const goodEnds = new Map<string, number>();
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
    for (const [day, lines] of byDay) await appendMember(join(opts.dir, `events-${day}.ndjson.gz`), lines.join(""), goodEnds);
  };
}

async function appendMember(path: string, text: string, goodEnds: Map<string, number>): Promise<void> {
  const member = framedMember(await gzipAsync(Buffer.from(text)));
  let file;
  try {
    // Not through a link: one planted in the folder would have the raw requests written into (and a
    // short file it names cut to) whatever it points at, at that file's permissions.
    file = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ELOOP" ? "is a symbolic link, which the archive does not write through" : (err as Error).message;
    throw new Error(`archive ${path}: ${why}`, { cause: err });
  }
  let before: number;
  try {
    before = await wholeMembersEnd(file, goodEnds.get(path) ?? 0);
  } catch (err) {
    await file.close();
    throw new Error(`archive ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // What follows the last whole member is what a write cut short left: its events were not deleted.
    if (before < (await file.stat()).size) await file.truncate(before);
    // One write call: appends of several relays sharing the store do not interleave inside a member.
    const { bytesWritten } = await file.write(member, 0, member.length);
    if (bytesWritten !== member.length) throw new Error(`short write (${bytesWritten} of ${member.length} bytes)`);
    await file.sync();
    if (before === 0) await syncDirOf(path);
    goodEnds.set(path, before + member.length);
  } catch (err) {
    goodEnds.delete(path);
    await file.truncate(before).catch(() => {});
    throw new Error(`archive ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await file.close();
  }
}

// The header of a member as this archive writes it: gzip's, with FEXTRA set and one subfield "HR" holding the member's length (uint32 LE).
const GZIP_HEADER = 10;
const EXTRA = 2 + 4 + 4;
const FEXTRA = 0x04;

/** zlib's member (a plain 10-byte header) with its length added to the header. */
function framedMember(gz: Buffer): Buffer {
  const total = gz.length + EXTRA;
  const head = Buffer.alloc(GZIP_HEADER + EXTRA);
  gz.copy(head, 0, 0, GZIP_HEADER);
  head[3] = gz[3]! | FEXTRA;
  head.writeUInt16LE(4 + 4, GZIP_HEADER); // XLEN: one subfield
  head.write("HR", GZIP_HEADER + 2, "latin1");
  head.writeUInt16LE(4, GZIP_HEADER + 4);
  head.writeUInt32LE(total, GZIP_HEADER + 6);
  return Buffer.concat([head, gz.subarray(GZIP_HEADER)]);
}

/** The length a member starting with `head` says it has, or null when it does not say (not written by this archive). */
function statedLength(head: Buffer): number | null {
  if (head.length < GZIP_HEADER + EXTRA || head[0] !== 0x1f || head[1] !== 0x8b || (head[3]! & FEXTRA) === 0) return null;
  if (head.toString("latin1", GZIP_HEADER + 2, GZIP_HEADER + 4) !== "HR" || head.readUInt16LE(GZIP_HEADER + 4) !== 4) return null;
  const length = head.readUInt32LE(GZIP_HEADER + 6);
  // Not even a header and a trailer: not a length this archive wrote.
  return length >= GZIP_HEADER + EXTRA + 8 ? length : null;
}

/**
 * Where the whole members of `file` end, walking their stated lengths from
 * `known` (a good end this process knew; 0 at first). A tail shorter than a
 * header, or shorter than its header says, is a write cut short; the last
 * member before it is inflated, its trailer checked. A member that states
 * no length (written before members did) ends the walk: the rest must
 * inflate whole, or the file is refused (where its good part ends cannot be
 * told, and nothing in it may be cut: its events may be deleted already).
 */
async function wholeMembersEnd(file: FileHandle, known: number): Promise<number> {
  const size = (await file.stat()).size;
  if (known === size) return size;
  let at = known < size ? known : 0;
  let last: { at: number; length: number } | null = null;
  while (at < size) {
    const head = Buffer.alloc(GZIP_HEADER + EXTRA);
    const { bytesRead } = await file.read(head, 0, head.length, at);
    if (bytesRead < head.length) break;
    const length = statedLength(head);
    if (length === null) {
      if (head[0] === 0x1f && head[1] === 0x8b && (await inflates(file, at, size - at))) return size;
      throw new Error(
        `${size - at} bytes from offset ${at} are not whole gzip members that can be told apart; move the file aside (zcat reads the members before them), and the next purge starts a new one`,
      );
    }
    if (at + length > size) break;
    last = { at, length };
    at += length;
  }
  if (last !== null && !(await inflates(file, last.at, last.length))) return last.at;
  return at;
}

/**
 * True when `length` bytes of `file` from `at` inflate as whole gzip members
 * (their CRCs and lengths check out). Streamed, what it inflates thrown away:
 * a day's file may be large.
 */
async function inflates(file: FileHandle, at: number, length: number): Promise<boolean> {
  const inflater = createGunzip();
  inflater.on("data", () => {});
  const ended = new Promise<boolean>((resolve) => {
    inflater.once("end", () => resolve(true));
    inflater.once("error", () => resolve(false));
  });
  const chunk = Buffer.alloc(Math.min(length, 1 << 20));
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, length - done), at + done);
    if (bytesRead === 0) break;
    // A copy: the inflater may still hold the chunk when the next read fills it.
    // Until it drains, or fails (a failed inflater never drains).
    if (!inflater.write(Buffer.from(chunk.subarray(0, bytesRead)))) await Promise.race([new Promise((resolve) => inflater.once("drain", resolve)), ended]);
    if (inflater.destroyed) return ended;
    done += bytesRead;
  }
  inflater.end();
  return ended;
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
