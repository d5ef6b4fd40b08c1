/**
 * Bun's native allocator (mimalloc) hands pages that empty back to the OS
 * 100 ms later, from a scavenger thread. Under a steady request load the
 * same pages are emptied, purged and faulted back in over and over: measured
 * on the ingest benchmark, the scavenger and the page faults cost ~16 µs of
 * CPU per request stored only and ~30 µs routed (+14% and +26% req/s with
 * purging off). Purging off altogether (-1) kept a burst's memory for good,
 * though: 1,000 bodies of 1 MB left 1.7 GB resident. With 1000 ms a page
 * stays mapped for a second after it empties, which gets back part of that
 * throughput (0.86–0.93× of -1, against 0.82–0.89× with 100), and a burst's
 * memory is returned within ~15 s of the relay going idle (docs/PERFORMANCE.md
 * "Bounded bodies"). mimalloc reads its options once, at process start, so a
 * relay replaces itself (execve: same PID, same arguments, same environment)
 * once with MIMALLOC_PURGE_DELAY=1000 before doing anything else. An operator
 * who sets MIMALLOC_PURGE_DELAY (e.g. 100, Bun's default) keeps their value.
 */
import { readFileSync } from "node:fs";

const OPTION = "MIMALLOC_PURGE_DELAY";
/** Milliseconds a freed page stays mapped for reuse before it is returned to the OS. */
const PURGE_DELAY_MS = 1000;

/**
 * Re-executes this process with a longer allocator purge delay, unless the variable
 * is already set (by the operator, or by this very re-exec) or the platform
 * has no execve to call. Returns only when it did not re-execute.
 */
export function reexecWithAllocatorTuning(): void {
  if (process.platform !== "linux" || process.env[OPTION] !== undefined) return;
  try {
    // The exact argv and environment the process started with, NUL-separated.
    const argv = nulList(readFileSync("/proc/self/cmdline"));
    const env = nulList(readFileSync("/proc/self/environ"));
    if (argv.length === 0) return;
    execve("/proc/self/exe", argv, [...env, `${OPTION}=${PURGE_DELAY_MS}`]);
  } catch {
    // No /proc, no libc, or execve refused: run as we are, with Bun's default.
  }
}

function nulList(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  if (text === "") return [];
  return (text.endsWith("\0") ? text.slice(0, -1) : text).split("\0");
}

/** Calls libc's execve; returns only if it failed. */
function execve(path: string, argv: string[], env: string[]): void {
  // Loaded here, not at the top: only `serve` and `dev` pay for bun:ffi.
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
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
  libc.close();
}
