/**
 * What the store's worker threads share on the main thread's side: where a
 * worker's module is, how one is started with its connection opened, and
 * how it is ended, how a statement's failure it reports becomes an error again
 * (writer/proxy.ts, reader/proxy.ts; checkpointer.ts uses the path).
 */
import { isStoreErrorCode, StoreError } from "./errors.ts";
import { RemoteSqlError } from "./sql-client.ts";
import { post, receiving } from "./writer/wire.ts";

/** The store's workers, by their module under store/. */
export type StoreThreadName = "writer/thread" | "reader/thread" | "checkpoint-worker";

/**
 * A store worker's module path, relative to store/. The build embeds each
 * worker as an extra entrypoint under the binary's virtual root
 * (`/$bunfs/root/`, mirroring src/); from source it sits under store/.
 */
export function workerPath(name: StoreThreadName): string {
  if (import.meta.url.includes("$bunfs")) return `/$bunfs/root/store/${name}.ts`;
  return new URL(`./${name}.ts`, import.meta.url).href;
}

/**
 * Starts a connection thread (the writer's or the reader's) and waits until
 * it has opened the store at `url`: it answers "opened", or "failed" with
 * why, which rejects (the thread ended).
 */
export async function startStoreThread(name: "writer/thread" | "reader/thread", url: string, busyTimeoutMs: number): Promise<Worker> {
  const worker = new Worker(workerPath(name));
  const opened = new Promise<void>((resolve, reject) => {
    worker.onmessage = receiving<{ kind: string; message?: string }>((m) => {
      if (m.kind === "opened") resolve();
      else if (m.kind === "failed") reject(new StoreError("unavailable", m.message ?? "the store could not be opened"));
    });
    worker.addEventListener("error", (e) => reject(new StoreError("unavailable", e.message)));
  });
  post(worker, { kind: "open", url, busyTimeoutMs });
  try {
    await opened;
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return worker;
}

/**
 * Ends a connection thread: asks it to close its connection, waits for its
 * "closed" (which `onClosed` is handed the call for), 5 s at most, then
 * terminates it.
 */
export async function endStoreThread(worker: Worker, onClosed: (closed: () => void) => void): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    onClosed(() => {
      clearTimeout(timer);
      resolve();
    });
    post(worker, { kind: "close" });
  });
  worker.terminate();
}

/**
 * A statement's failure as a store thread reported it: the thread's own
 * StoreError (a lock waited out, a full disk) keeps its code; a driver's
 * error keeps the driver's code, for classifyStoreError to read as on this
 * thread.
 */
export function threadError(message: string, code: string | null): Error {
  return isStoreErrorCode(code) ? new StoreError(code, message) : new RemoteSqlError(message, code ?? undefined);
}
