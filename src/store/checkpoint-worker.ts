/**
 * Worker thread that checkpoints the WAL on its own connection, so that the
 * copy of pages into the database file and its fsync never block the event
 * loop that answers providers. Started by checkpointer.ts.
 *
 * A PASSIVE checkpoint never waits for the writer, but under sustained
 * ingest it never finds the WAL fully copied either, and SQLite only starts
 * the WAL over when a write begins with every frame copied: the file grew by
 * every commit, without bound (840 MB after 20 s at 11k req/s). So once the
 * file passes `restartBytes`, this thread catches up (a second pass copies
 * what arrived during the first) and posts "caught-up": the writer then runs
 * one PASSIVE checkpoint itself, between two of its transactions, which has
 * only the last few milliseconds of frames to copy, and its next transaction
 * starts the WAL over from the beginning of the file.
 */
import { statSync } from "node:fs";
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

let timer: ReturnType<typeof setInterval> | null = null;
let closeConnection: (() => void) | null = null;
let running: Promise<unknown> | null = null;

self.onmessage = async (e: MessageEvent<CheckpointStart | "stop">) => {
  if (e.data === "stop") {
    if (timer) clearInterval(timer);
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
  const walPath = `${conn.filePath}-wal`;
  const walBytes = () => {
    try {
      return statSync(walPath).size;
    } catch {
      return 0;
    }
  };
  const passive = () => conn.client.execute("PRAGMA wal_checkpoint(PASSIVE)");
  timer = setInterval(() => {
    if (running) return;
    // A busy or full store is reported by the write path; try again next tick.
    running = (async () => {
      await passive();
      if (walBytes() < restartBytes) return;
      await passive();
      self.postMessage("caught-up" satisfies FromCheckpointWorker);
    })()
      .catch(() => {})
      .finally(() => {
        running = null;
      });
  }, everyMs);
};
