/**
 * Whether the writer's commits are failing, for /readyz. A probe transaction
 * alone does not tell: on a full disk it commits (it needs no new page) while
 * every event fails. So a failed commit is remembered until a later one
 * succeeds, or, for a full disk, until the store's filesystem has room again:
 * a balancer stops sending to a relay that is not ready, so no request may
 * come to prove it. Other failures are also cleared by a probe that commits.
 */
import { statfsSync } from "node:fs";
import { classifyStoreError, type StoreErrorCode } from "./errors.ts";
import { CommitWait } from "./writer/commit-wait.ts";
import type { CommitWriter, Writer } from "./writer/proxy.ts";

export interface CommitHealthOptions {
  /** Directory of the embedded store file, or null for a libSQL server. */
  dir: string | null;
  /** Free bytes on the store's filesystem that count as room again after a commit failed for want of space. */
  roomBytes: number;
  /** Free bytes on the filesystem of `dir` (statfs); null if unknown. */
  freeBytes?: (dir: string) => number | null;
  /** The clock of the outage's times (the store's). */
  nowMs?: () => number;
}

/** When the store's commits began failing, and when one succeeded again (null: still failing). */
export interface CommitOutage {
  sinceMs: number;
  untilMs: number | null;
}

/** Free bytes an unprivileged process may use on the filesystem holding `dir`; null if it cannot be read. */
export function freeBytesAt(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** Remembers the writer's last failed commit until it is known to be over. */
export class CommitHealth {
  #failure: StoreErrorCode | null = null;
  readonly #opts: CommitHealthOptions;

  constructor(opts: CommitHealthOptions) {
    this.#opts = opts;
  }

  #outage: CommitOutage | null = null;

  /** A commit of the writer succeeded. */
  succeeded(): void {
    this.#failure = null;
    this.#over();
  }

  /** A commit of the writer failed; a lock held by another process (busy) is for the probe to see, not remembered. */
  failed(code: StoreErrorCode): void {
    if (code === "busy") return;
    this.#failure = code;
    if (this.#outage === null || this.#outage.untilMs !== null) this.#outage = { sinceMs: this.#now(), untilMs: null };
  }

  /**
   * The last time the store could not commit: from its first failed commit
   * to the first that succeeded (or the probe that found it over), as they
   * happened, not as a periodic check noticed them; null when it never failed.
   */
  lastOutage(): CommitOutage | null {
    return this.#outage;
  }

  #over(): void {
    if (this.#outage !== null && this.#outage.untilMs === null) this.#outage = { ...this.#outage, untilMs: this.#now() };
  }

  #now(): number {
    return (this.#opts.nowMs ?? Date.now)();
  }

  /** The failure that still stands, given that a probe transaction just committed; null when there is none. */
  standingFailure(): StoreErrorCode | null {
    if (this.#failure === "full" && this.#opts.dir !== null) {
      const free = (this.#opts.freeBytes ?? freeBytesAt)(this.#opts.dir);
      if (free === null || free < this.#opts.roomBytes) return "full";
    }
    this.#failure = null;
    this.#over();
    return null;
  }
}

/**
 * The writer as the rest sees it, reporting to `health`:
 * every ingest commit, and write jobs that failed for want of space
 * or write access (their other errors may be the statement's own);
 * and timing each ingest request's wait for its commit (ackWaitMs).
 */
export function watchCommits(writer: CommitWriter, health: CommitHealth): Writer {
  const waits = new CommitWait();
  const failed = (err: unknown): never => {
    health.failed(classifyStoreError(err).code);
    throw err;
  };
  // A write job fails alone for its own reasons (a constraint); only a full, read-only or unreachable store is the store's.
  const failedJob = (err: unknown): never => {
    const code = classifyStoreError(err).code;
    if (code === "full" || code === "readonly" || code === "unreachable") health.failed(code);
    throw err;
  };
  return {
    dialect: writer.dialect,
    submit: (item) => {
      const waiting = waits.started();
      return writer.submit(item).then(
        (outcome) => {
          waits.settled(waiting);
          health.succeeded();
          return outcome;
        },
        (err: unknown) => {
          waits.settled(waiting);
          return failed(err);
        },
      );
    },
    recordRejection: (item) => writer.recordRejection(item),
    write: (stmts, durability) => writer.write(stmts, durability).catch(failedJob),
    checkpoint: (truncate) => writer.checkpoint(truncate),
    flushed: () => writer.flushed(),
    ackWaitMs: () => waits.take(),
  };
}

/** A write that changes nothing: can a transaction be opened and committed? */
export const PROBE = "UPDATE source_counters SET received = received WHERE 1 = 0";

/**
 * Why the store cannot take writes now, or null: a probe through the writer
 * (like every write: a probe that took the write lock from beside the writer
 * would wait behind it), else a failure of the writer's commits that still stands.
 */
export function unwritableReasonOf(writer: Writer, health: CommitHealth): () => Promise<StoreErrorCode | null> {
  return async () =>
    (await writer.write([PROBE]).then(
      () => null,
      (err: unknown) => classifyStoreError(err).code,
    )) ?? health.standingFailure();
}
