/** Starts and stops the WAL checkpoint worker (see checkpoint-worker.ts). */
import { workerPath } from "./worker-writer.ts";

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Runs PASSIVE checkpoints every `everyMs` on a worker thread with its own connection. */
export function startCheckpointer(url: string, everyMs: number, busyTimeoutMs: number): Checkpointer {
  const worker = new Worker(workerPath("checkpoint-worker"));
  worker.postMessage({ url, everyMs, busyTimeoutMs });
  (worker as unknown as { unref?(): void }).unref?.();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          worker.terminate();
          resolve();
        };
        const timer = setTimeout(done, 5000);
        worker.onmessage = () => {
          clearTimeout(timer);
          done();
        };
        worker.postMessage("stop");
      }),
  };
}

