import { expect, test } from "bun:test";
import { WakeUps } from "./wake-ups.ts";

const woken = () => {
  const at: number[] = [];
  const wakeUps = new WakeUps(() => at.push(performance.now()));
  return { at, wakeUps };
};

test("each time asked for wakes the engine once, in time order, whatever order they were asked in", async () => {
  const { at, wakeUps } = woken();
  const start = performance.now();
  wakeUps.at(60);
  wakeUps.at(20);
  wakeUps.at(40);
  expect(wakeUps.waiting).toBe(3);
  await Bun.sleep(300);
  expect(at).toHaveLength(3);
  const offsets = at.map((t) => t - start);
  for (const [i, due] of [20, 40, 60].entries()) expect(offsets[i]!).toBeGreaterThanOrEqual(due - 1);
  expect(wakeUps.waiting).toBe(0);
});

test("times that have passed together wake it once; the same millisecond asked twice is one wake-up", async () => {
  const at: number[] = [];
  // The clock held still while both are asked: a busy machine could otherwise cross a millisecond between them.
  let held: number | null = performance.now();
  const wakeUps = new WakeUps(() => at.push(performance.now()), 1024, () => held ?? performance.now());
  wakeUps.at(10);
  wakeUps.at(10);
  expect(wakeUps.waiting).toBe(1);
  held = null;
  // Both have passed by the time the loop runs the timer.
  wakeUps.at(5);
  Bun.sleepSync(30);
  await Bun.sleep(20);
  expect(at).toHaveLength(1);
});

test("bounded: past its maximum the latest times are let go, the earliest kept", async () => {
  const at: number[] = [];
  const wakeUps = new WakeUps(() => at.push(performance.now()), 2);
  const start = performance.now();
  wakeUps.at(300);
  wakeUps.at(200);
  wakeUps.at(10); // 300 is let go
  wakeUps.at(400); // later than every time kept: not taken
  expect(wakeUps.waiting).toBe(2);
  await Bun.sleep(500);
  expect(at.map((t) => t - start >= 190)).toEqual([false, true]);
});

test("stop() cancels every wake-up", async () => {
  const { at, wakeUps } = woken();
  wakeUps.at(10);
  wakeUps.stop();
  await Bun.sleep(30);
  expect(at).toHaveLength(0);
});

test("within: a round already due by then serves, so rounds that keep asking add no wake-ups of their own", async () => {
  const { at, wakeUps } = woken();
  wakeUps.within(30);
  wakeUps.within(50); // the wake-up at 30 serves
  wakeUps.within(40);
  expect(wakeUps.waiting).toBe(1);
  wakeUps.within(10); // sooner than any waiting: added
  wakeUps.at(50); // a retry's time is kept whatever waits before it
  expect(wakeUps.waiting).toBe(3);
  await Bun.sleep(200);
  expect(at).toHaveLength(3);
});

test("a time further ahead than a timer keeps (weeks) waits, instead of waking the engine at once", async () => {
  const { at, wakeUps } = woken();
  wakeUps.at(30 * 86_400_000);
  wakeUps.at(20);
  await Bun.sleep(100);
  // The near one woke it; the far one still waits (a 30-day timer would have fired within a millisecond).
  expect(at).toHaveLength(1);
  expect(wakeUps.waiting).toBe(1);
  wakeUps.stop();
});

test("a retry's time hands its target over when it fires; times passed together hand theirs over together", async () => {
  const handed: string[][] = [];
  let held: number | null = performance.now();
  const wakeUps = new WakeUps((due) => handed.push([...due].sort()), 1024, () => held ?? performance.now());
  wakeUps.at(10, "a");
  wakeUps.at(10, "b"); // the same millisecond: one wake-up, both targets
  wakeUps.at(10, "a"); // a target named twice is handed over once
  wakeUps.within(5); // a round for tokens: no target of its own
  wakeUps.at(60, "c");
  expect(wakeUps.waiting).toBe(3);
  held = null;
  Bun.sleepSync(20); // 5 and 10 have both passed by the time the loop runs the timer
  await Bun.sleep(10);
  expect(handed).toEqual([["a", "b"]]);
  await Bun.sleep(80);
  expect(handed).toEqual([["a", "b"], ["c"]]);
});

test("a time let go at the bound takes its targets with it (the poll finds them); stop() forgets them all", async () => {
  const handed: string[][] = [];
  const wakeUps = new WakeUps((due) => handed.push([...due]), 1);
  wakeUps.at(40, "late");
  wakeUps.at(10, "soon"); // 40 is let go, and "late" with it
  await Bun.sleep(80);
  expect(handed).toEqual([["soon"]]);
  wakeUps.at(10, "x");
  wakeUps.stop();
  wakeUps.at(20);
  await Bun.sleep(50);
  expect(handed).toEqual([["soon"], []]);
});
