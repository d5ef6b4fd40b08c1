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
 * what arrived during the first) and posts "caught-up": the writer then runs
 * one PASSIVE checkpoint itself, between two of its transactions, which has
 * only the last few milliseconds of frames to copy, and its next transaction
 * starts the WAL over from the beginning of the file.
 */
import { openConnection } from "./client.ts";

declare const self: Worker;

export interface CheckpointStart {
  url: string;
  everyMs: number;
  busyTimeoutMs: number;
  /** WAL size from which the writer is asked to let the WAL start over. */
  restartBytes: number;
}

/** "caught-up": everything but the latest frames is copied; the writer may finish the job. */
export type FromCheckpointWorker = "caught-up" | "stopped";

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
    self.postMessage("stopped" satisfies FromCheckpointWorker);
    return;
  }
  const { url, everyMs, busyTimeoutMs, restartBytes } = e.data;
  const conn = await openConnection({ url, busyTimeoutMs });
  closeConnection = () => conn.close();
  const pageSize = Number((await conn.client.execute("PRAGMA page_size")).rows[0]?.[0] ?? 4096);
  // The WAL in use is what a pass reports (`log` frames): the file itself
  // keeps its largest size after starting over.
  const passive = async () => Number((await conn.client.execute("PRAGMA wal_checkpoint(PASSIVE)")).rows[0]?.[1] ?? 0);
  // Every `everyMs` while the WAL grows; ten times slower while it does not
  // (an idle relay then wakes this thread once a second, not ten times).
  let lastFrames = -1;
  const tick = () => {
    // A busy or full store is reported by the write path; try again next tick.
    running = (async () => {
      const frames = await passive();
      const idle = frames === lastFrames;
      lastFrames = frames;
      if (frames * (pageSize + 24) < restartBytes) return idle;
      // No frame added since (or the WAL started over): the writer is idle and
      // its next write starts the WAL over by itself.
      if ((await passive()) <= frames) return idle;
      self.postMessage("caught-up" satisfies FromCheckpointWorker);
      return false;
    })()
      .catch(() => false)
      .then((idle) => {
        running = null;
        if (!stopping) timer = setTimeout(tick, idle ? everyMs * 10 : everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
};
