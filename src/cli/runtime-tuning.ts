/**
 * Options the runtime reads once, at process start, set for the relay: a
 * relay (`serve`, `dev`) replaces itself (execve: same PID, same arguments,
 * same environment) once with the ones not already set, before doing
 * anything else. An operator who sets one keeps their value.
 *
 * MIMALLOC_PURGE_DELAY=1000. Bun's native allocator (mimalloc) hands pages
 * that empty back to the OS 100 ms later, from a scavenger thread. Under a
 * steady request load the same pages are emptied, purged and faulted back in
 * over and over: measured on the ingest benchmark, the scavenger and the
 * page faults cost ~16 µs of CPU per request stored only and ~30 µs routed
 * (+14% and +26% req/s with purging off). Purging off altogether (-1) kept a
 * burst's memory for good, though: 1,000 bodies of 1 MB left 1.7 GB
 * resident. With 1000 ms a page stays mapped for a second after it empties,
 * which gets back part of that throughput (0.86–0.93× of -1, against
 * 0.82–0.89× with 100), and a burst's memory is returned within ~15 s of the
 * relay going idle (docs/PERFORMANCE.md "Bounded bodies").
 *
 * BUN_JSC_useFTLJIT=0. JavaScriptCore's top tier (FTL) compiles the hottest
 * functions once more, on background threads, for the first minute or more
 * of a process and again after each deoptimization. On a small VM those
 * threads take the CPU the relay itself needs, and for this code (I/O glue;
 * hashing, SQL and JSON are native) the FTL's code was no faster than the
 * tier below it (DFG), which still optimizes: measured on 2 vCPUs, ingest
 * with delivery after a 20 s warm-up +26% req/s and -21% CPU per request
 * without it, the same after a minute at a steady rate (docs/PERFORMANCE.md
 * "The JIT's top tier"). Bun refuses to start with a JSC option it does not
 * know: the compiled binary's tests run with this one, so a Bun upgrade that
 * dropped it would fail there, not on a server.
 */
import { readFileSync } from "node:fs";

/** The relay's values for options the runtime reads at start (see above). */
export const RUNTIME_TUNING: Readonly<Record<string, string>> = {
  // Milliseconds a freed page stays mapped for reuse before it is returned to the OS.
  MIMALLOC_PURGE_DELAY: "1000",
  // JavaScriptCore's top JIT tier off; the baseline and DFG tiers stay.
  BUN_JSC_useFTLJIT: "0",
};

/**
 * Re-executes this process with the tuning options it lacks, unless every
 * one is already set (by the operator, or by this very re-exec) or the
 * platform has no execve to call. Returns only when it did not re-execute.
 */
export function reexecWithRuntimeTuning(): void {
  const missing = Object.entries(RUNTIME_TUNING).filter(([name]) => process.env[name] === undefined);
  if (process.platform !== "linux" || missing.length === 0) return;
  try {
    // The exact argv and environment the process started with, NUL-separated.
    const argv = nulList(readFileSync("/proc/self/cmdline"));
    const env = nulList(readFileSync("/proc/self/environ"));
    if (argv.length === 0) return;
    execve("/proc/self/exe", argv, [...env, ...missing.map(([name, value]) => `${name}=${value}`)]);
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
