import { expect, test } from "bun:test";
import { CommitWait } from "./commit-wait.ts";

test("the wait is the mean of the requests answered since the last look, and starts over after it", () => {
  const clock = { t: 0 };
  const w = new CommitWait(() => clock.t);
  const a = w.started();
  clock.t = 4;
  const b = w.started();
  clock.t = 10;
  w.settled(a); // waited 10
  w.settled(b); // waited 6
  expect(w.take()).toBe(8);
  expect(w.take()).toBe(0);
});

test("a request still waiting counts with its age when that is longer: a hung commit is not a short wait", () => {
  const clock = { t: 0 };
  const w = new CommitWait(() => clock.t);
  const quick = w.started();
  const stuck = w.started();
  clock.t = 2;
  w.settled(quick);
  clock.t = 300;
  expect(w.take()).toBe(300); // nothing else answered: the oldest waiting says how long
  w.settled(stuck);
  expect(w.take()).toBe(300);
  expect(w.take()).toBe(0);
});
