import { expect, test } from "bun:test";
import { CommitHealth } from "./commit-health.ts";

const MiB = 1024 * 1024;

function health(dir: string | null, free: { bytes: number | null }) {
  return new CommitHealth({ dir, roomBytes: 3 * MiB, freeBytes: () => free.bytes });
}

test("a full-disk failure stands while the filesystem has less free room than asked, and clears once it has it", () => {
  const free: { bytes: number | null } = { bytes: 64 * 1024 };
  const h = health("/data", free);
  expect(h.standingFailure()).toBeNull();
  h.failed("full");
  expect(h.standingFailure()).toBe("full");
  free.bytes = null; // statfs failed: no evidence of room
  expect(h.standingFailure()).toBe("full");
  free.bytes = 3 * MiB;
  expect(h.standingFailure()).toBeNull();
  free.bytes = 0;
  expect(h.standingFailure()).toBeNull();
});

test("a commit that succeeds clears a full-disk failure whatever the free room", () => {
  const h = health("/data", { bytes: 0 });
  h.failed("full");
  h.succeeded();
  expect(h.standingFailure()).toBeNull();
});

test("other failures, and a full libSQL server (no filesystem to look at), are cleared by a probe that commits", () => {
  const h = health(null, { bytes: 0 });
  h.failed("full");
  expect(h.standingFailure()).toBeNull();
  const file = health("/data", { bytes: 0 });
  file.failed("readonly");
  expect(file.standingFailure()).toBeNull();
});

test("a lock held by another process is not remembered: the probe reports it while it lasts", () => {
  const h = health("/data", { bytes: 0 });
  h.failed("busy");
  expect(h.standingFailure()).toBeNull();
});

test("an outage runs from the first failed commit to the first that succeeds (or the probe that finds it over), at the store's clock", () => {
  let now = 1_000;
  const free = { bytes: 0 as number | null };
  const h = new CommitHealth({ dir: "/data", roomBytes: 3 * MiB, freeBytes: () => free.bytes, nowMs: () => now });
  expect(h.lastOutage()).toBeNull();
  h.failed("busy"); // another process's lock: no outage
  expect(h.lastOutage()).toBeNull();
  h.failed("unreachable");
  now = 2_000;
  h.failed("unreachable"); // the same outage goes on
  expect(h.lastOutage()).toEqual({ sinceMs: 1_000, untilMs: null });
  now = 5_000;
  h.succeeded();
  expect(h.lastOutage()).toEqual({ sinceMs: 1_000, untilMs: 5_000 });
  // A full disk with no request to prove it: over when a probe finds room.
  now = 9_000;
  h.failed("full");
  now = 10_000;
  expect(h.standingFailure()).toBe("full");
  expect(h.lastOutage()).toEqual({ sinceMs: 9_000, untilMs: null });
  free.bytes = 3 * MiB;
  now = 12_000;
  expect(h.standingFailure()).toBeNull();
  expect(h.lastOutage()).toEqual({ sinceMs: 9_000, untilMs: 12_000 });
});
