/**
 * Two runtime settings a relay starts with, each read once, at process start,
 * and so set by replacing the process (execve: same PID, same arguments, same
 * environment plus the settings) once, before anything else. An operator who
 * sets either variable keeps their value.
 *
 * MIMALLOC_PURGE_DELAY=1000. Bun's native allocator (mimalloc) hands pages
 * that empty back to the OS 100 ms later, from a scavenger thread. Under a
 * steady request load the same pages are emptied, purged and faulted back in
 * over and over: measured on the ingest benchmark, the scavenger and the page
 * faults cost ~16 µs of CPU per request stored only and ~30 µs routed (+14%
 * and +26% req/s with purging off). Purging off altogether (-1) kept a
 * burst's memory for good, though: 1,000 bodies of 1 MB left 1.7 GB resident.
 * With 1000 ms a page stays mapped for a second after it empties, which gets
 * back part of that throughput (0.86–0.93× of -1, against 0.82–0.89× with
 * 100), and a burst's memory is returned within ~15 s of the relay going
 * idle (docs/PERFORMANCE.md "Bounded bodies").
 *
 * BUN_JSC_thresholdForFTLOptimizeAfterWarmUp=1000000 (JavaScriptCore's
 * default here: 64,000). The top JIT tier (FTL) compiles a function once
 * its already optimised code has run this much. At the default, a relay's
 * first seconds of work compile ~90 functions in that tier, ~0.65 s of CPU
 * taken from the event loop and the writer on a small machine, exactly when
 * a restarted relay catches up on a backlog; most of those functions gain
 * little from it, the relay's heavy lifting being native (sockets, HMAC,
 * SQLite). Later, only code that stays hot reaches the top tier, and it
 * still does within seconds at load (docs/PERFORMANCE.md "The top JIT tier
 * later"). A Bun that no longer knows the option refuses to start, which
 * every test of the binary would show at the upgrade.
 */
import { readFileSync, readlinkSync } from "node:fs";

/** Each variable and the value a relay starts with unless it is set already. */
const RUNTIME_TUNING: Readonly<Record<string, string>> = {
  MIMALLOC_PURGE_DELAY: "1000",
  BUN_JSC_thresholdForFTLOptimizeAfterWarmUp: "1000000",
};

/**
 * Re-executes this process with the settings that are not set yet (by the
 * operator, or by this very re-exec), unless all are or the platform has no
 * execve to call. Returns only when it did not re-execute.
 */
export function reexecWithRuntimeTuning(): void {
  if (process.platform !== "linux") return;
  const missing = Object.entries(RUNTIME_TUNING).filter(([name]) => process.env[name] === undefined);
  if (missing.length === 0) return;
  try {
    // The exact argv and environment the process started with, NUL-separated.
    const argv = nulList(readFileSync("/proc/self/cmdline"));
    const env = nulList(readFileSync("/proc/self/environ"));
    if (argv.length === 0) return;
    execve(ownExecutable(), argv, [...env, ...missing.map(([name, value]) => `${name}=${value}`)], inheritedFdsNamedIn(argv));
  } catch {
    // No /proc, no libc, or execve refused: run as we are, with Bun's defaults.
  }
}

/**
 * The path of the running executable. The process takes its name (ps, top,
 * pgrep, journald's _COMM) from the file execve is given: the link
 * /proc/self/exe would name it `exe`. The link itself only when the file is
 * gone from its path (replaced by an upgrade this very moment): it still
 * reaches the binary that is running.
 */
function ownExecutable(): string {
  const path = readlinkSync("/proc/self/exe");
  return path.endsWith(" (deleted)") ? "/proc/self/exe" : path;
}

/**
 * The descriptors an argument names as a file (`--config <(…)` is
 * `/dev/fd/63`). Bun marks every descriptor it inherits close-on-exec, so
 * the re-executed process would find such a file gone; these are kept open
 * across the exec, no others.
 */
function inheritedFdsNamedIn(argv: string[]): number[] {
  return argv.flatMap((arg) => {
    const m = /^(?:.*=)?\/(?:dev|proc\/self)\/fd\/(\d+)$/.exec(arg);
    return m && Number(m[1]) > 2 ? [Number(m[1])] : [];
  });
}

function nulList(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  if (text === "") return [];
  return (text.endsWith("\0") ? text.slice(0, -1) : text).split("\0");
}

/** Calls libc's execve, `keepOpen` cleared of close-on-exec first; returns only if it failed. */
function execve(path: string, argv: string[], env: string[], keepOpen: number[]): void {
  // Loaded here, not at the top: only `serve` and `dev` pay for bun:ffi.
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    signal: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.ptr },
  });
  const F_SETFD = 2;
  for (const fd of keepOpen) libc.symbols.fcntl(fd, F_SETFD, 0);
  // A reload signal between here and the new process's first line would end it: ignored meanwhile
  // (an ignored signal stays ignored across execve; early-signals.ts takes over from there).
  const SIGHUP = 1;
  const SIG_IGN = 1;
  const before = libc.symbols.signal(SIGHUP, SIG_IGN as never);
  // Referenced until the call: the pointers must not outlive their buffers.
  const keep: ArrayBufferView[] = [];
  const cString = (s: string) => {
    const b = Buffer.from(`${s}\0`, "utf8");
    keep.push(b);
    return ptr(b);
  };
  const array = (items: string[]) => {
    const a = new BigUint64Array(items.length + 1);
    items.forEach((s, i) => (a[i] = BigInt(cString(s))));
    keep.push(a);
    return ptr(a);
  };
  libc.symbols.execve(cString(path), array(argv), array(env));
  // Still here: execve failed, and this process runs on as it was.
  libc.symbols.signal(SIGHUP, before);
  libc.close();
}
