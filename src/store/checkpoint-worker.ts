/**
 * Worker thread that checkpoints the WAL on its own connection, so that the
 * copy of pages into the database file and its fsync never block the event
 * loop that answers providers. Started by checkpointer.ts.
 *
 * A PASSIVE checkpoint never waits for the writer, but under sustained
 * ingest it never finds the WAL fully copied either, and SQLite only starts
 * the WAL over when a write begins with every frame copied: the file grew by
 * every commit, without bound (840 MB after 20 s at 11k req/s). So once the
 * WAL in use passes `restartBytes`, this thread catches up (a second pass copies
 * what arrived during the first) and posts "start-over": the writer then runs
 * one PASSIVE checkpoint itself, between two of its transactions, which has
 * only the last few milliseconds of frames to copy, and its next transaction
 * starts the WAL over from the beginning of the file.
 *
 * The WAL file keeps the largest size it reached, though, and on a disk short
 * of room that matters: copying the WAL into the database file may need as
 * much room there as the WAL holds, so a WAL that took the last free bytes
 * in a burst left the checkpoint none: no frame could be copied, the WAL could never start over,
 * and no commit could succeed until as much was freed. So with less than
 * four times `restartBytes` free the WAL's size follows the room left
 * (walRestartAt), and once the file passes it this thread posts "start-over"
 * with `truncate`: the writer's checkpoint then empties the file too.
 */
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { openConnection } from "./client.ts";
import { freeBytesAt } from "./commit-health.ts";

declare const self: Worker;

export interface CheckpointStart {
  url: string;
  everyMs: number;
  busyTimeoutMs: number;
  /** WAL size from which the writer is asked to let the WAL start over, with room to spare on the disk. */
  restartBytes: number;
  /** The store file, whose WAL file and free disk room are watched on a disk short of room; null: not watched. */
  file: string | null;
}

/**
 * "start-over": everything but the latest frames is copied, the writer may let
 * the WAL start over (`truncate`: the disk is short of room, empty the file too).
 */
export type FromCheckpointWorker = { kind: "start-over"; truncate: boolean } | { kind: "stopped" };

const MiB = 1024 * 1024;

/**
 * The most the WAL may hold before it starts over: `restartBytes`, or, once
 * the disk has less than four times that free, a quarter of the free bytes
 * (at least 1 MiB, so that a nearly full disk is not truncated at every
 * tick): copying the WAL into the database file may take as much room again
 * as the WAL holds, and a burst grows it by a tick's commits past its size.
 *
 * @example walRestartAt(64 * MiB, 10 * MiB) // 2.5 MiB
 */
export function walRestartAt(restartBytes: number, freeBytes: number | null): number {
  if (freeBytes === null || freeBytes >= 4 * restartBytes) return restartBytes;
  return Math.max(MiB, Math.floor(freeBytes / 4));
}

/** How the WAL went since the last tick, which sets the next one's time. */
type Pace = "idle" | "growing" | "short";

let timer: ReturnType<typeof setTimeout> | null = null;
let stopping = false;
let closeConnection: (() => void) | null = null;
let running: Promise<unknown> | null = null;

self.onmessage = async (e: MessageEvent<CheckpointStart | "stop">) => {
  if (e.data === "stop") {
    stopping = true;
    if (timer) clearTimeout(timer);
    // Finish the checkpoint under way and close between statements:
    // terminating the thread inside a native call aborts the process.
    await running;
    closeConnection?.();
    self.postMessage({ kind: "stopped" } satisfies FromCheckpointWorker);
    return;
  }
  const { url, everyMs, busyTimeoutMs, restartBytes, file } = e.data;
  const conn = await openConnection({ url, busyTimeoutMs });
  closeConnection = () => conn.close();
  const pageSize = Number((await conn.client.execute("PRAGMA page_size")).rows[0]?.[0] ?? 4096);
  // The WAL in use is what a pass reports (`log` frames): the file itself
  // keeps its largest size after starting over.
  const passive = async () => Number((await conn.client.execute("PRAGMA wal_checkpoint(PASSIVE)")).rows[0]?.[1] ?? 0);
  const walFileBytes = () => (file === null ? 0 : (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0));
  // Every `everyMs` while the WAL grows; ten times slower while it does not
  // (an idle relay then wakes this thread once a second, not ten times). On a
  // disk short of room four times faster, idle or not: a burst grows the WAL
  // by a tick's commits (megabytes in 100 ms) into the last free bytes.
  let lastFrames = -1;
  const tick = () => {
    // A busy or full store is reported by the write path; try again next tick.
    running = (async (): Promise<Pace> => {
      const frames = await passive();
      const walBytes = walRestartAt(restartBytes, file === null ? null : freeBytesAt(dirname(file)));
      const short = walBytes < restartBytes;
      const pace = short ? "short" : frames === lastFrames ? "idle" : "growing";
      lastFrames = frames;
      if (short) {
        if (walFileBytes() <= walBytes) return pace;
      } else {
        if (frames * (pageSize + 24) < walBytes) return pace;
        // No frame added since (or the WAL started over): the writer is idle and
        // its next write starts the WAL over by itself.
        if ((await passive()) <= frames) return pace;
      }
      self.postMessage({ kind: "start-over", truncate: short } satisfies FromCheckpointWorker);
      return short ? "short" : "growing";
    })()
      .catch((): Pace => "growing")
      .then((pace) => {
        running = null;
        if (!stopping) timer = setTimeout(tick, pace === "idle" ? everyMs * 10 : pace === "short" ? everyMs / 4 : everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
};
