import { expect, test } from "bun:test";
import { createLogger } from "./logger.ts";
import { FoldedLog } from "./folded-log.ts";

/** The "rejected" line (ingest's) on a fake clock whose timers run only when the test moves time. */
function harness() {
  let now = 1_000_000;
  const lines: Record<string, unknown>[] = [];
  const timers: { at: number; fn: () => void }[] = [];
  const rejected = { level: "info", msg: "rejected", key: (e: { source: string; reason: string }) => `${e.source}\0${e.reason}` } as const;
  const log = new FoldedLog<{ source: string; reason: string; message: string; remote: string }>(createLogger("info", (l) => lines.push(JSON.parse(l))), rejected, {
    nowMs: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return () => timers.splice(timers.indexOf(t), 1);
    },
  });
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((t) => t.at <= now)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  const reject = (source: string, reason: string, message = `${reason} message`) =>
    log.record({ source, reason, message, remote: "127.0.0.1" });
  const summary = () => lines.map((l) => [l.source, l.reason, l.count]);
  return { log, lines, advance, reject, summary, pending: () => timers.length };
}

test("the first rejection of a source and reason is logged at once, the rest of its second as one counted line", () => {
  const h = harness();
  h.reject("a", "bad_signature");
  expect(h.summary()).toEqual([["a", "bad_signature", 1]]);
  expect(h.lines[0]).toMatchObject({ level: "info", msg: "rejected", message: "bad_signature message", remote: "127.0.0.1" });
  for (let i = 0; i < 99; i++) {
    h.advance(5);
    h.reject("a", "bad_signature", `last ${i}`);
  }
  expect(h.lines).toHaveLength(1);
  h.advance(505);
  expect(h.summary()).toEqual([["a", "bad_signature", 1], ["a", "bad_signature", 99]]);
  expect(h.lines[1]).toMatchObject({ msg: "rejected", message: "last 98" });
  // The counted line says when the first and the last it stands for happened (5 ms and 495 ms after the first one).
  expect(h.lines[0]!.firstAt).toBeUndefined();
  expect(h.lines[1]).toMatchObject({ firstAt: new Date(1_000_005).toISOString(), lastAt: new Date(1_000_495).toISOString() });
});

test("sources and reasons are counted apart", () => {
  const h = harness();
  h.reject("a", "bad_signature");
  h.reject("a", "missing_signature");
  h.reject("b", "bad_signature");
  h.reject("a", "bad_signature");
  h.advance(1000);
  expect(h.summary()).toEqual([
    ["a", "bad_signature", 1],
    ["a", "missing_signature", 1],
    ["b", "bad_signature", 1],
    ["a", "bad_signature", 1],
  ]);
});

test("a steady flood writes one line a second, and a quiet second lets the next one through at once", () => {
  const h = harness();
  for (let ms = 0; ms < 5000; ms += 10) {
    h.reject("a", "bad_signature");
    h.advance(10);
  }
  // One line at once, then one summary at the end of each second: never two lines in a second.
  expect(h.summary()).toEqual([
    ["a", "bad_signature", 1],
    ["a", "bad_signature", 99],
    ...Array.from({ length: 4 }, () => ["a", "bad_signature", 100]),
  ]);
  expect(h.lines.reduce((n, l) => n + Number(l.count), 0)).toBe(500);
  h.advance(2000);
  expect(h.pending()).toBe(0);
  h.reject("a", "bad_signature");
  expect(h.lines.at(-1)).toMatchObject({ count: 1 });
});

test("flush writes what is pending at once and cancels its timer", () => {
  const h = harness();
  h.reject("a", "bad_signature");
  h.reject("a", "bad_signature");
  h.reject("a", "bad_signature");
  h.log.flush();
  expect(h.summary()).toEqual([["a", "bad_signature", 1], ["a", "bad_signature", 2]]);
  expect(h.pending()).toBe(0);
  h.log.flush();
  expect(h.lines).toHaveLength(2);
});

test("any line folds the same way, at its own level and keyed by its own fields", () => {
  const lines: Record<string, unknown>[] = [];
  let now = 0;
  const failed = new FoldedLog<{ source: string; code: string }>(
    createLogger("info", (l) => lines.push(JSON.parse(l))),
    { level: "error", msg: "store write failed", key: (e) => `${e.source}\0${e.code}` },
    { nowMs: () => now, setTimer: () => () => {} },
  );
  for (let i = 0; i < 50; i++) failed.record({ source: "a", code: "full" });
  failed.record({ source: "a", code: "busy" });
  failed.flush();
  expect(lines.map((l) => [l.level, l.msg, l.code, l.count])).toEqual([
    ["error", "store write failed", "full", 1],
    ["error", "store write failed", "busy", 1],
    ["error", "store write failed", "full", 49],
  ]);
});
