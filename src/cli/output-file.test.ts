import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOutputFile } from "./output-file.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("a run's temporary files left by a killed run are removed at the next run; a running process's are kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-output-"));
  dirs.push(dir);
  // A process that has exited: its pid names no running process (for the moment this test needs).
  const gone = Bun.spawn(["true"]);
  await gone.exited;
  const abandoned = [`.out.db.partial-${gone.pid}`, `.out.db.partial-${gone.pid}-journal`];
  const running = `.out.db.partial-${process.ppid}`;
  for (const name of [...abandoned, running, ".other.db.partial-1", "keep.txt"]) writeFileSync(join(dir, name), "x");
  const started = startOutputFile(join(dir, "out.db"), false);
  if (!started.ok) throw new Error(started.error);
  writeFileSync(started.file.fd, "whole");
  expect(started.file.commit()).toBeNull();
  expect(readdirSync(dir).sort()).toEqual([".other.db.partial-1", running, "keep.txt", "out.db"].sort());
});
