/**
 * The drain's floor on this machine (run by bench/deliver.ts, step 2): the
 * least a process must do to drain a stored backlog durably, shaped as the
 * relay is — an event loop that sends and a writer thread that owns the
 * store — with nothing of the product. Its store: one table of deliveries
 * (an integer key, a status, the body) with the one index a lease needs,
 * one table of attempts; no events, headers, signing, ids, health, logs,
 * metrics or admin indexes. The writer, in one transaction a round (WAL,
 * synchronous=NORMAL, as the relay writes a drain's rounds): marks the
 * round's finished deliveries done, appends their attempts, leases the next
 * ones (UPDATE … RETURNING the bodies). The event loop (bench/floor-engine.ts)
 * keeps 64 `fetch`es going to the sink, as the bare loop does, from the
 * leased line, and asks for the next round while one is not in flight.
 *
 *   bun bench/drain-floor.ts <sink url> <store file> <count>
 *
 * Seeds <count> pending deliveries of BODY into a new <store file>, prints
 * "ready", drains them all, exits.
 */
import { Database } from "bun:sqlite";
import { drainRounds } from "./floor-engine.ts";

interface Round {
  done: number[];
  at: number;
  want: number;
}
interface Leased {
  id: number;
  body: Uint8Array;
}

if (Bun.isMainThread) await main();
else writerThread();

async function main(): Promise<void> {
  const [sinkUrl, file, countText] = process.argv.slice(2);
  const count = Number(countText);
  seed(file!, count, process.env.FLOOR_BODY ?? "{}");
  const writer = new Worker(import.meta.url);
  writer.postMessage(file); // its first message: the store's file
  console.log("ready");
  await drainRounds<Leased, number>(writer, count, {
    post: (done, want) => writer.postMessage({ done, at: Date.now(), want } satisfies Round),
    async send({ id, body }) {
      const res = await fetch(sinkUrl!, { method: "POST", body: body as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/json" } });
      await res.arrayBuffer();
      return id;
    },
  });
  writer.terminate();
  process.exit(0);
}

function seed(file: string, count: number, body: string): void {
  const db = new Database(file, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`CREATE TABLE deliveries (id INTEGER PRIMARY KEY, status INTEGER NOT NULL, body BLOB NOT NULL);
    CREATE INDEX deliveries_due ON deliveries (id) WHERE status = 0;
    CREATE TABLE attempts (id INTEGER PRIMARY KEY, delivery_id INTEGER NOT NULL, at INTEGER NOT NULL, status_code INTEGER)`);
  const insert = db.prepare("INSERT INTO deliveries (status, body) VALUES (0, ?)");
  const bytes = new TextEncoder().encode(body);
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(bytes);
  })();
  db.close();
}

function writerThread(): void {
  let write: ((r: Round) => Leased[]) | null = null;
  self.onmessage = (e: MessageEvent<Round | string>) => {
    if (typeof e.data === "string") write = openWriter(e.data);
    else postMessage(write!(e.data));
  };
}

function openWriter(file: string): (r: Round) => Leased[] {
  const db = new Database(file);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  const finish = db.prepare("UPDATE deliveries SET status = 2 WHERE id = ?");
  const attempt = db.prepare("INSERT INTO attempts (delivery_id, at, status_code) VALUES (?, ?, 200)");
  const lease = db.prepare<Leased, [number]>(
    "UPDATE deliveries SET status = 1 WHERE id IN (SELECT id FROM deliveries WHERE status = 0 ORDER BY id LIMIT ?) RETURNING id, body",
  );
  return db.transaction((r: Round): Leased[] => {
    for (const id of r.done) {
      finish.run(id);
      attempt.run(id, r.at);
    }
    return r.want > 0 ? lease.all(r.want) : [];
  });
}
