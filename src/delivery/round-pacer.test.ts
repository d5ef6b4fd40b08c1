import { expect, test } from "bun:test";
import { RoundPacer } from "./round-pacer.ts";

/** A pacer whose writes wait until the test lets them go, recording what ran and when it overlapped. */
function paced(clock = () => 0) {
  const log: string[] = [];
  const pending: (() => void)[] = [];
  let writing = 0;
  let peak = 0;
  let n = 0;
  const pacer = new RoundPacer<number>(
    {
      write: async (full) => {
        const id = ++n;
        writing++;
        peak = Math.max(peak, writing);
        log.push(`write ${id}${full ? " full" : ""}`);
        await new Promise<void>((r) => pending.push(r));
        writing--;
        if (id === 99) throw new Error("no");
        return id;
      },
      settle: (id) => log.push(`settle ${id}`),
      failed: (err) => log.push(`failed ${String(err)}`),
    },
    clock,
  );
  const turn = () => new Promise((r) => setImmediate(r));
  const release = async () => {
    pending.shift()?.();
    await turn();
    await turn();
  };
  return { pacer, log, release, turn, peak: () => peak, setN: (v: number) => (n = v) };
}

test("one round at a time: asked for while one is written, the next starts when it ends and leaves before it is settled", async () => {
  const { pacer, log, release, turn, peak } = paced();
  pacer.request();
  pacer.request(); // the same turn: one round
  await turn();
  expect(log).toEqual(["write 1"]);
  pacer.request(true);
  await turn();
  expect(log).toEqual(["write 1"]); // waits for the one being written
  await release();
  expect(log).toEqual(["write 1", "write 2 full", "settle 1"]);
  await release();
  expect(log.at(-1)).toBe("settle 2");
  expect(peak()).toBe(1);
});

test("two at a time while ingest was seen within the last second", async () => {
  let now = 0;
  const { pacer, log, release, turn, peak } = paced(() => now);
  pacer.ingestSeen(0);
  pacer.request();
  await turn();
  pacer.request();
  await turn();
  expect(log).toEqual(["write 1", "write 2"]);
  expect(peak()).toBe(2);
  now = 1_000; // ingest no longer seen: back to one
  pacer.request();
  await release();
  expect(log).toEqual(["write 1", "write 2", "settle 1"]); // one still in flight: the third waits
  await release();
  expect(log).toEqual(["write 1", "write 2", "settle 1", "write 3", "settle 2"]);
});

test("a failed write is reported, not settled, and the round asked for meanwhile still runs", async () => {
  const { pacer, log, release, turn, setN } = paced();
  setN(98);
  pacer.request();
  await turn();
  pacer.request();
  await release();
  expect(log).toEqual(["write 99", "failed Error: no", "write 100"]);
});

test("tick runs a full round after those in flight and resolves with what it wrote", async () => {
  const { pacer, log, release, turn } = paced();
  pacer.request();
  await turn();
  const ticked = pacer.tick();
  await turn();
  expect(log).toEqual(["write 1"]);
  await release();
  expect(log).toEqual(["write 1", "settle 1", "write 2 full"]);
  await release();
  expect(await ticked).toBe(2);
  expect(log.at(-1)).toBe("settle 2");
});
