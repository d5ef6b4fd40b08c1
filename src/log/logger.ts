/**
 * JSON-lines logger: one object per notable event, on stderr. Callers pass
 * ids and reasons, never secrets or bodies (STYLE.md, SPEC.md "Operations").
 */
import { fstatSync, writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Moves the floor (a reload's `log_level`); a logger that wraps another has none. */
  setLevel?(level: LogLevel): void;
}

/**
 * Lines to stderr, written once per event-loop turn: under load one write(2)
 * carries every line of a turn instead of one syscall per line (at log_level
 * info, a line per request cost 8–9 µs of the event loop; see PERFORMANCE.md).
 * Written with writeSync, so what was logged before process.exit() is out
 * before the process is ('exit' flushes the rest); a SIGKILL can lose the
 * lines of the last turn, never a stored event.
 */
function batchedStderr(): (line: string) => void {
  let pending = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === "") return;
    const bytes = Buffer.from(pending);
    pending = "";
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(2, bytes, at);
    } catch {
      // A non-blocking stderr that is full (EAGAIN): let the stream queue the rest.
      process.stderr.write(bytes.subarray(at));
    }
  };
  process.once("exit", flush);
  return (line) => {
    pending += line;
    if (pending.length >= 64 * 1024) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

let stderrSink: ((line: string) => void) | null = null;
const toStderr = (line: string) => (stderrSink ??= batchedStderr())(line);

/**
 * sd-daemon(3) priority prefixes. journald takes them off each line of a
 * service's stderr and keeps the line at that priority, so that
 * `journalctl -p warning` shows warnings and errors only.
 */
const PRIORITY_PREFIX: Record<LogLevel, string> = { debug: "<7>", info: "<6>", warn: "<4>", error: "<3>" };

/** True when stderr is connected to the journal: systemd sets JOURNAL_STREAM to that stream's device:inode. */
export function stderrIsJournal(env: Record<string, string | undefined> = process.env): boolean {
  const [dev, ino] = (env.JOURNAL_STREAM ?? "").split(":");
  if (!dev || !ino) return false;
  try {
    const st = fstatSync(2);
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}

/**
 * A plain-text line to stderr, outside the JSON log (why `serve` could not
 * start, a config's problems), with its journald priority when stderr is
 * the journal, so that `journalctl -p err` shows why a service did not start.
 */
export function stderrLine(level: "error" | "warn", text: string): void {
  process.stderr.write(`${stderrIsJournal() ? PRIORITY_PREFIX[level] : ""}${text}\n`);
}

// What JSON leaves as it is but a terminal or a log viewer acts on: C1 controls (8-bit escapes), line
// and paragraph separators, bidirectional controls (a provider's text read backwards).
const UNSAFE_IN_TERMINAL = /[\u0080-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE_IN_TERMINAL.source, "g");
/** The line with those written as JSON escapes: the same JSON, one inert line. */
const escapeUnsafe = (line: string) => line.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * A logger writing lines at or above `level` to `write` (stderr, batched per
 * turn, by default); each line starts with its journald priority when stderr
 * is the journal.
 */
export function createLogger(level: LogLevel, write: (line: string) => void = toStderr, journal = write === toStderr && stderrIsJournal()): Logger {
  let min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields });
    write(`${journal ? PRIORITY_PREFIX[lvl] : ""}${UNSAFE_IN_TERMINAL.test(line) ? escapeUnsafe(line) : line}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    setLevel: (next) => void (min = RANK[next]),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger("error", () => {});
