import { expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import { ingestFirstFromEnv } from "./engine.ts";
import { IngestFirst } from "./ingest-first.ts";

function controller(wait: { ms: number }, clock: { t: number }) {
  return new IngestFirst({ ackWaitMs: () => wait.ms, now: () => clock.t, busyAtMs: 16, floor: 2, periodMs: 100 });
}

test("a queue of acks two periods in a row halves the attempts in flight each period down to the floor; a calm one doubles them back to no cap", () => {
  const wait = { ms: 40 };
  const clock = { t: 0 };
  const f = controller(wait, clock);
  expect(f.cap(24, 64)).toBe(Infinity); // one busy period could be one slow commit
  clock.t = 100;
  expect(f.cap(24, 64)).toBe(12); // from what is in flight now
  expect(f.cap(12, 64)).toBe(12); // at most one move per period
  const caps: number[] = [];
  for (let i = 2; i <= 5; i++) {
    clock.t = i * 100;
    caps.push(f.cap(caps.at(-1) ?? 12, 64));
  }
  expect(caps).toEqual([6, 3, 2, 2]);
  expect(f.yielding()).toBe(true);
  wait.ms = 15;
  const back: number[] = [];
  for (let i = 6; i <= 10; i++) {
    clock.t = i * 100;
    back.push(f.cap(2, 64));
  }
  expect(back).toEqual([4, 8, 16, 32, Infinity]);
  expect(f.yielding()).toBe(false);
});

test("while capped, lease rounds run at most once a period; uncapped, whenever asked", () => {
  const wait = { ms: 40 };
  const clock = { t: 0 };
  const f = controller(wait, clock);
  f.cap(0, 64);
  expect(f.roundWait()).toBe(0); // no cap yet
  expect(f.roundWait()).toBe(0);
  clock.t = 100;
  expect(f.cap(0, 64)).toBe(2);
  expect(f.roundWait()).toBe(0); // this period's round
  clock.t = 130;
  expect(f.roundWait()).toBe(70); // the next one 100 ms after it
  clock.t = 200;
  f.cap(2, 64);
  expect(f.roundWait()).toBe(0);
  expect(f.roundWait()).toBe(100);
  wait.ms = 0;
  for (let i = 3; i <= 8; i++) {
    clock.t = i * 100;
    f.cap(2, 64);
  }
  expect(f.yielding()).toBe(false);
  expect(f.roundWait()).toBe(0);
  expect(f.roundWait()).toBe(0);
});

test("a wait below busyAtMs never caps deliveries", () => {
  const clock = { t: 0 };
  const f = controller({ ms: 15 }, clock);
  for (let i = 0; i < 10; i++) {
    clock.t = i * 100;
    expect(f.cap(64, 64)).toBe(Infinity);
  }
});

test("busy with nothing in flight, the floor is the cap", () => {
  const clock = { t: 0 };
  const f = controller({ ms: 100 }, clock);
  f.cap(0, 64);
  clock.t = 100;
  expect(f.cap(0, 64)).toBe(2);
});

test("busy periods with a calm one between them never cap", () => {
  const wait = { ms: 0 };
  const clock = { t: 0 };
  const f = controller(wait, clock);
  for (let i = 0; i < 10; i++) {
    clock.t = i * 100;
    wait.ms = i % 2 === 0 ? 50 : 0;
    expect(f.cap(16, 64)).toBe(Infinity);
  }
});

test("by default a mean wait of 50 ms is a queue and 49 ms is not", () => {
  const wait = { ms: 49 };
  const clock = { t: 0 };
  const f = new IngestFirst({ ackWaitMs: () => wait.ms, now: () => clock.t });
  for (let i = 0; i < 5; i++) {
    clock.t = i * 100;
    expect(f.cap(16, 64)).toBe(Infinity);
  }
  wait.ms = 50;
  clock.t = 500;
  expect(f.cap(16, 64)).toBe(Infinity);
  clock.t = 600;
  expect(f.cap(16, 64)).toBe(8);
});

test("HOOKRELAY_INGEST_FIRST_WAIT_MS sets the wait, 0 turns ingest first off, nonsense keeps the default and says so", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  const ackWaitMs = () => 0;
  expect(ingestFirstFromEnv(ackWaitMs, log, {})).toEqual({ ackWaitMs });
  expect(ingestFirstFromEnv(ackWaitMs, log, { HOOKRELAY_INGEST_FIRST_WAIT_MS: "8" })).toEqual({ ackWaitMs, busyAtMs: 8 });
  expect(ingestFirstFromEnv(ackWaitMs, log, { HOOKRELAY_INGEST_FIRST_WAIT_MS: "0" })).toBeUndefined();
  expect(lines).toEqual([]);
  expect(ingestFirstFromEnv(ackWaitMs, log, { HOOKRELAY_INGEST_FIRST_WAIT_MS: "lots" })).toEqual({ ackWaitMs });
  expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", value: "lots" });
});

test("the count HOOKRELAY_INGEST_FIRST_BUSY_AT took before is no longer read, and the log says so", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  const ackWaitMs = () => 0;
  expect(ingestFirstFromEnv(ackWaitMs, log, { HOOKRELAY_INGEST_FIRST_BUSY_AT: "0" })).toEqual({ ackWaitMs });
  expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: expect.stringContaining("HOOKRELAY_INGEST_FIRST_WAIT_MS") });
});

test("yielding lasts at most maxYieldMs in a row; then deliveries rest at full concurrency for restMs, whatever the wait", () => {
  const clock = { t: 0 };
  const f = new IngestFirst({ ackWaitMs: () => 100, now: () => clock.t, busyAtMs: 16, floor: 2, periodMs: 100, maxYieldMs: 1_000, restMs: 500 });
  const caps: number[] = [];
  for (let t = 0; t <= 2_000; t += 100) {
    clock.t = t;
    caps.push(f.cap(2, 64));
  }
  // t=0 first busy period; 100 capped (from the 2 in flight); until 1,100 (1 s of yielding),
  // then full for 500 ms (1,100-1,500); then busy again: 1,600 the first period, 1,700 capped.
  expect(caps).toEqual([
    Infinity, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity, 2, 2, 2, 2,
  ]);
});
