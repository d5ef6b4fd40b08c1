/**
 * Worker thread that owns the ingest write connection: it runs the group
 * commit (IngestWriter) so that SQLite's statement work and fsyncs happen off
 * the event loop that reads requests and verifies signatures.
 * Protocol: see worker-writer.ts.
 */
import { openConnection } from "./client.ts";
import { classifyStoreError } from "./errors.ts";
import { IngestWriter, type IngestItem, type IngestOutcome, type RejectionItem } from "./ingest-writer.ts";

declare const self: Worker;

export type ToWorker =
  | { kind: "open"; url: string; busyTimeoutMs: number }
  | { kind: "batch"; items: { seq: number; item: IngestItem }[]; rejections: RejectionItem[] }
  | { kind: "close" };

export type FromWorker =
  | { kind: "opened" }
  | { kind: "failed"; message: string }
  | { kind: "results"; results: ({ seq: number; outcome: IngestOutcome } | { seq: number; error: { code: string; message: string } })[] }
  | { kind: "flush"; rows: number; ms: number }
  | { kind: "closed" };

let writer: IngestWriter | null = null;
let close: (() => void) | null = null;
const post = (m: FromWorker) => self.postMessage(m);

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.kind === "open") {
    try {
      let conn = await openConnection({ url: msg.url, busyTimeoutMs: msg.busyTimeoutMs });
      const connection = {
        get: async () => {
          if (conn.client.closed) conn = await openConnection({ url: msg.url, busyTimeoutMs: msg.busyTimeoutMs });
          return conn.client;
        },
        discard: () => conn.close(),
      };
      writer = new IngestWriter(connection, { onFlush: (rows, ms) => post({ kind: "flush", rows, ms }) });
      close = () => conn.close();
      post({ kind: "opened" });
    } catch (err) {
      post({ kind: "failed", message: (err as Error).message });
    }
    return;
  }
  if (msg.kind === "close") {
    // Close the connection here, between statements: terminating a thread
    // in the middle of a native call aborts the whole process.
    await writer?.flushed();
    close?.();
    post({ kind: "closed" });
    return;
  }
  const w = writer!;
  for (const r of msg.rejections) w.recordRejection(r);
  // Every item of this message joins the same flush (IngestWriter batches per tick).
  const results = await Promise.all(
    msg.items.map(({ seq, item }) =>
      w.submit(item).then(
        (outcome) => ({ seq, outcome }),
        (err: unknown) => {
          const e = classifyStoreError(err);
          return { seq, error: { code: e.code, message: e.message } };
        },
      ),
    ),
  );
  // Rejections ride the same flush; answer only once they are written too.
  if (msg.rejections.length > 0) await w.flushed();
  post({ kind: "results", results });
};
