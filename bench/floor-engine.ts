/**
 * The engine both drain floors share (bench/drain-floor.ts, the product's
 * floor bench/drain-floor-product.ts), so that what separates their figures
 * is the work each does, not how it is driven: CONCURRENCY senders take
 * leased items off one line; whenever no round is in flight, one is posted to
 * the writer thread — the outcomes finished since the last, and how many
 * items to lease next (enough for every slot and AHEAD more) — and the
 * writer answers each round with the items it leased.
 */

/** Requests in flight at once, as the bare loop's and the bench relay's target's. */
export const CONCURRENCY = 64;
/** The line leased ahead of the slots, as the relay's (2 × concurrency, at most 128). */
export const AHEAD = 128;

export interface FloorWork<Item, Outcome> {
  /** Posts one round to the writer: the finished outcomes, and how many items to lease (0: none). */
  post(done: Outcome[], want: number): void;
  /** Sends one leased item; resolves with its outcome once the target answered. */
  send(item: Item): Promise<Outcome>;
}

/** Drains `count` items through `writer` (which answers each round with an array of leased items); resolves once the last outcome is written. */
export async function drainRounds<Item, Outcome>(writer: Worker, count: number, work: FloorWork<Item, Outcome>): Promise<void> {
  const line: Item[] = [];
  let done: Outcome[] = [];
  let roundInFlight = false;
  let sent = 0;
  let inFlight = 0;
  let waiting: (() => void)[] = [];
  const round = () => {
    if (roundInFlight) return;
    const want = sent >= count ? 0 : Math.max(0, CONCURRENCY + AHEAD - line.length - inFlight);
    if (done.length === 0 && want === 0) return;
    roundInFlight = true;
    work.post(done, want);
    done = [];
  };
  writer.onmessage = (e: MessageEvent<Item[]>) => {
    roundInFlight = false;
    line.push(...e.data);
    const w = waiting;
    waiting = [];
    for (const wake of w) wake();
    round();
  };
  round();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        while (line.length === 0) {
          if (sent >= count) return;
          await new Promise<void>((r) => waiting.push(r));
        }
        const item = line.shift()!;
        sent++;
        inFlight++;
        const outcome = await work.send(item);
        inFlight--;
        done.push(outcome);
        round();
      }
    }),
  );
  // The last outcomes written before the end.
  while (roundInFlight || done.length > 0) {
    round();
    await Bun.sleep(1);
  }
}
