/**
 * A file a command writes (a backup, an export): created 0600 under a
 * temporary name beside its path, fsynced, and moved to its path only when
 * complete, so that a failed or interrupted run never leaves half a file
 * where a whole one is expected; what a killed run left under its temporary
 * name goes at the next run. An existing file is replaced only with
 * --force. Problems come back as one-line messages naming the path.
 */
import { closeSync, existsSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export interface OutputFile {
  /** The final path. */
  path: string;
  /** Where the content goes until commit() (mode 0600). */
  tmpPath: string;
  /** An open descriptor on tmpPath. */
  fd: number;
  /** fsyncs and moves the file to its path (and fsyncs the directory); an error message, or null. */
  commit(): string | null;
  /** Removes the temporary file. */
  abort(): void;
}

/**
 * Starts writing `path`; an error message when it exists (without `force`),
 * cannot be written, or is the store's file (`storeFile`: the embedded
 * store the command reads, or one of SQLite's files beside it) — replacing
 * that under a running relay would drop what it has acknowledged since.
 */
export function startOutputFile(path: string, force: boolean, storeFile: string | null = null): { ok: true; file: OutputFile } | { ok: false; error: string } {
  const full = resolve(path);
  const dir = dirname(full);
  const store = storeFile === null ? undefined : storeFiles(storeFile).find((f) => sameFile(f, full));
  if (store !== undefined) return { ok: false, error: `${full} is ${store === storeFile ? "the store itself" : `the store's ${store.slice(storeFile!.length)} file`}; write it elsewhere` };
  if (existsSync(full)) {
    if (!statSync(full).isFile()) return { ok: false, error: `${full} is not a regular file` };
    if (!force) return { ok: false, error: `${full} already exists (--force replaces it)` };
  } else if (isLink(full) && !force) {
    return { ok: false, error: `${full} is a symbolic link to a file that does not exist (--force replaces the link, never what it names)` };
  }
  if (!existsSync(dir)) return { ok: false, error: `cannot write ${full}: directory ${dir} does not exist` };
  removeAbandoned(dir, basename(full));
  const tmpPath = join(dir, `.${basename(full)}.partial-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(tmpPath, "wx", 0o600);
  } catch (err) {
    return { ok: false, error: `cannot write ${full}: ${reason(err)}` };
  }
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    ok: true,
    file: {
      path: full,
      tmpPath,
      fd,
      commit() {
        try {
          fsyncSync(fd);
          close();
          if (force) renameSync(tmpPath, full);
          else {
            // link() fails if the path appeared meanwhile: never replace a file without --force.
            linkSync(tmpPath, full);
            unlinkSync(tmpPath);
          }
          syncDir(dir);
          return null;
        } catch (err) {
          this.abort();
          return `cannot write ${full}: ${reason(err)}`;
        }
      },
      abort() {
        close();
        // With what SQLite may have left beside it: a VACUUM INTO that failed (a full disk) leaves its journal.
        for (const f of storeFiles(tmpPath)) {
          try {
            unlinkSync(f);
          } catch {
            // already gone
          }
        }
      },
    },
  };
}

/**
 * Removes what runs killed before their commit (kill -9, a power cut) left
 * beside `name`: the temporary files of processes no longer running. A run
 * still going (another process writing the same path) keeps its own.
 */
function removeAbandoned(dir: string, name: string): void {
  const prefix = `.${name}.partial-`;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = entry.startsWith(prefix) ? /^\d+/.exec(entry.slice(prefix.length))?.[0] : undefined;
    // A run's file, or one SQLite keeps beside it (a backup's VACUUM INTO journal).
    if (pid === undefined || !storeFiles(`${prefix}${pid}`).includes(entry) || isRunning(Number(pid))) continue;
    try {
      unlinkSync(join(dir, entry));
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: running, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The store's file and those SQLite keeps beside it. */
function storeFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The same path, or (through a link or another name) the same file. */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === b) return true;
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** fsync a directory so that a file just created or renamed in it survives a power cut. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A failed file operation in a few words. */
export function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "read-only file system",
    ENOSPC: "no space left on device",
    ENOENT: "no such file or directory",
    EEXIST: "the file appeared meanwhile",
    EISDIR: "is a directory",
  };
  return words[e.code ?? ""] ?? e.message;
}

/**
 * Writes `text` to `path` as a whole (startOutputFile: 0600 under a temporary
 * name, moved over only when complete, never through a link); an error
 * message naming the path, or null.
 */
export function writeWholeFile(path: string, text: string, force: boolean): string | null {
  const started = startOutputFile(path, force);
  if (!started.ok) return started.error;
  const { file } = started;
  try {
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; ) at += writeSync(file.fd, bytes, at);
  } catch (err) {
    file.abort();
    return `cannot write ${file.path}: ${reason(err)}`;
  }
  return file.commit();
}
