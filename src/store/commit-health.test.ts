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
