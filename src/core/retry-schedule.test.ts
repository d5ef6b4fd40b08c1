import { expect, test } from "bun:test";
import { clampRetryAfter, nextAttemptAt, parseRetryAfter } from "./retry-schedule.ts";

const policy = { scheduleMs: [0, 5_000, 60_000, 300_000], jitter: 0.2 };

test("the delay before attempt n+1 is the schedule's n-th entry", () => {
  expect(nextAttemptAt({ ...policy, jitter: 0 }, 1, 1_000, 0.9)).toBe(6_000);
  expect(nextAttemptAt({ ...policy, jitter: 0 }, 2, 1_000, 0.9)).toBe(61_000);
});

test("the schedule exhausted means no next attempt", () => {
  expect(nextAttemptAt(policy, 4, 1_000, 0.5)).toBeNull();
});

test("jitter stays within plus or minus the configured fraction", () => {
  expect(nextAttemptAt(policy, 1, 0, 0)).toBe(4_000);
  expect(nextAttemptAt(policy, 1, 0, 0.5)).toBe(5_000);
  expect(nextAttemptAt(policy, 1, 0, 0.999999)).toBe(6_000);
});

test("Retry-After puts the next attempt later than the schedule would, within the schedule's bounds", () => {
  expect(nextAttemptAt(policy, 1, 0, 0.5, 20_000)).toBe(20_000);
  expect(nextAttemptAt(policy, 1, 0, 0.5, 86_400_000)).toBe(300_000);
  expect(clampRetryAfter(policy, 0)).toBe(5_000);
  expect(clampRetryAfter(policy, 86_400_000)).toBe(300_000);
});

test("Retry-After never brings the next attempt sooner than the schedule", () => {
  // "Retry-After: 1" on the attempt whose next step is 1 min: the minute stands.
  expect(nextAttemptAt(policy, 2, 0, 0.5, 1_000)).toBe(60_000);
  expect(nextAttemptAt(policy, 2, 0, 0.5, 7_000)).toBe(60_000);
  expect(nextAttemptAt(policy, 3, 0, 0.5, 0)).toBe(300_000);
});

test("Retry-After does not extend a finished schedule", () => {
  expect(nextAttemptAt(policy, 4, 0, 0.5, 1_000)).toBeNull();
});

test("Retry-After parses delay-seconds and HTTP dates, and rejects junk", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  expect(parseRetryAfter("120", now)).toBe(120_000);
  expect(parseRetryAfter(" 7 ", now)).toBe(7_000);
  expect(parseRetryAfter("Wed, 21 Oct 2015 07:29:30 GMT", now)).toBe(90_000);
  expect(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now)).toBe(0);
  // asctime and RFC 850, HTTP's older forms: GMT too, whatever the process's zone.
  expect(parseRetryAfter("Wed Oct 21 07:29:30 2015", now)).toBe(90_000);
  expect(parseRetryAfter("Wednesday, 21-Oct-15 07:29:30 GMT", now)).toBe(90_000);
  // A date that names another zone (not HTTP's, but meant so) is read in that zone.
  expect(parseRetryAfter("Wed, 21 Oct 2015 02:29:30 EST", now)).toBe(90_000);
  expect(parseRetryAfter("-5", now)).toBeNull();
  expect(parseRetryAfter("soon", now)).toBeNull();
  expect(parseRetryAfter("21 Oct 2015", now)).toBeNull();
  expect(parseRetryAfter("1.5", now)).toBeNull();
  expect(parseRetryAfter(null, now)).toBeNull();
});

test("an asctime Retry-After means the same under any process zone", () => {
  const script = `import { parseRetryAfter } from ${JSON.stringify(new URL("./retry-schedule.ts", import.meta.url).pathname)}; console.log(parseRetryAfter("Wed Oct 21 07:29:30 2015", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")))`;
  for (const tz of ["Asia/Kolkata", "America/Los_Angeles"]) {
    const run = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: tz } });
    expect([tz, run.stdout.toString().trim()]).toEqual([tz, "90000"]);
  }
});
