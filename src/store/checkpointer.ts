/** Starts and stops the WAL checkpoint worker (see checkpoint-worker.ts). */
import type { CheckpointStart, FromCheckpointWorker } from "./checkpoint-worker.ts";
import { workerPath } from "./writer/proxy.ts";

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  url: string;
  everyMs: number;
  busyTimeoutMs: number;
  /** WAL size from which `restartWal` is called after a catch-up pass. */
  restartBytes: number;
  /** Runs one PASSIVE checkpoint on the writer's own connection, between its transactions. */
  restartWal(): Promise<unknown>;
}

/** Runs PASSIVE checkpoints every `everyMs` on a worker thread with its own connection. */
export function startCheckpointer(opts: CheckpointerOptions): Checkpointer {
  const worker = new Worker(workerPath("checkpoint-worker"));
  let stopped: (() => void) | null = null;
  let restarting: Promise<unknown> | null = null;
  let stopping = false;
  worker.onmessage = (e: MessageEvent<FromCheckpointWorker>) => {
    if (e.data === "stopped") return stopped?.();
    if (restarting || stopping) return;
    // A failed checkpoint is harmless: a busy or full store shows up on the write path.
    restarting = opts
      .restartWal()
      .catch(() => {})
      .finally(() => (restarting = null));
  };
  worker.postMessage({ url: opts.url, everyMs: opts.everyMs, busyTimeoutMs: opts.busyTimeoutMs, restartBytes: opts.restartBytes } satisfies CheckpointStart);
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
