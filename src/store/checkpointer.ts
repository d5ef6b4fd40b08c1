/** Starts and stops the WAL checkpoint worker (see checkpoint-worker.ts). */
import type { CheckpointStart, FromCheckpointWorker } from "./checkpoint-worker.ts";
import { workerPath } from "./store-thread.ts";

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  url: string;
  everyMs: number;
  busyTimeoutMs: number;
  /** WAL size from which `restartWal` is called after a catch-up pass (less on a disk short of room: walRestartAt). */
  restartBytes: number;
  /** The store file, whose WAL file and free disk room are watched on a disk short of room; null: not watched. */
  file: string | null;
  /** Runs one checkpoint on the writer's own connection, between its transactions: PASSIVE, or TRUNCATE on a disk short of room. */
  restartWal(truncate: boolean): Promise<unknown>;
}

/** Runs PASSIVE checkpoints every `everyMs` on a worker thread with its own connection. */
export function startCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const worker = new Worker(workerPath("checkpoint-worker"));
  let stopped: (() => void) | null = null;
  let restarting: Promise<unknown> | null = null;
  let stopping = false;
  worker.onmessage = (e: MessageEvent<FromCheckpointWorker>) => {
    if (e.data.kind === "stopped") return stopped?.();
    if (restarting || stopping) return;
    // A failed checkpoint is harmless: a busy or full store shows up on the write path.
    restarting = opts
      .restartWal(e.data.truncate)
      .catch(() => {})
      .finally(() => (restarting = null));
  };
  worker.postMessage({ url: opts.url, everyMs: opts.everyMs, busyTimeoutMs: opts.busyTimeoutMs, restartBytes: opts.restartBytes, file: opts.file } satisfies CheckpointStart);
  (worker as unknown as { unref?(): void }).unref?.();
  return {
    // Returns once the writer's last checkpoint is answered: the store closes the writer next.
    stop: async () => {
      stopping = true;
      await restarting;
      await new Promise<void>((resolve) => {
        const done = () => {
          worker.terminate();
          resolve();
        };
        const timer = setTimeout(done, 5000);
        stopped = () => {
          clearTimeout(timer);
          done();
        };
        worker.postMessage("stop");
      });
    },
  };
}
