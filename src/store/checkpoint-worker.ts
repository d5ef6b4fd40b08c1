/**
 * Worker thread that checkpoints the WAL on its own connection, so that the
 * copy of pages into the database file and its fsync never block the event
 * loop that answers providers. Started by checkpointer.ts.
 */
import { openConnection } from "./client.ts";

declare const self: Worker;

interface Start {
  url: string;
  everyMs: number;
  busyTimeoutMs: number;
}

let timer: ReturnType<typeof setInterval> | null = null;
let closeConnection: (() => void) | null = null;
let running: Promise<unknown> | null = null;

self.onmessage = async (e: MessageEvent<Start | "stop">) => {
  if (e.data === "stop") {
    if (timer) clearInterval(timer);
    // Finish the checkpoint under way and close between statements:
    // terminating the thread inside a native call aborts the process.
    await running;
    closeConnection?.();
    self.postMessage("stopped");
    return;
  }
  const { url, everyMs, busyTimeoutMs } = e.data;
  const conn = await openConnection({ url, busyTimeoutMs });
  closeConnection = () => conn.close();
  timer = setInterval(() => {
    if (running) return;
    // PASSIVE never waits for writers; once every frame is copied back the
    // next writer starts the WAL over, so the file stays small. A busy or
    // full store is reported by the write path; try again next tick.
    running = conn.client
      .execute("PRAGMA wal_checkpoint(PASSIVE)")
      .catch(() => {})
      .finally(() => {
        running = null;
      });
  }, everyMs);
};
