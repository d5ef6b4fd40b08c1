import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveSecret } from "./secret-ref.ts";

const dir = mkdtempSync(join(tmpdir(), "hookrelay-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveSecret", () => {
  test("returns a literal as written", () => {
    expect(resolveSecret("s3cr3t", { env: {}, baseDir: dir })).toEqual({ ok: true, value: "s3cr3t" });
  });

  test("reads env: refs from the env object passed in", () => {
    expect(resolveSecret("env:A", { env: { A: "alpha" }, baseDir: dir })).toEqual({ ok: true, value: "alpha" });
    expect(resolveSecret("env:PLOINTS_SECRET", { env: {}, baseDir: dir })).toEqual({
      ok: false,
      error: "env var PLOINTS_SECRET is not set",
    });
    expect(resolveSecret("env:A", { env: { A: "" }, baseDir: dir })).toEqual({ ok: false, error: "env var A is empty" });
  });

  test("reads file: refs without the trailing newline, relative paths from baseDir", () => {
    writeFileSync(join(dir, "s.txt"), "from-file\n");
    expect(resolveSecret(`file:${join(dir, "s.txt")}`, { env: {}, baseDir: "/" })).toEqual({ ok: true, value: "from-file" });
    expect(resolveSecret("file:s.txt", { env: {}, baseDir: dir })).toEqual({ ok: true, value: "from-file" });
  });

  test("expands the systemd credentials directory", () => {
    mkdirSync(join(dir, "creds"));
    writeFileSync(join(dir, "creds", "token"), "cred-value\r\n");
    const env = { CREDENTIALS_DIRECTORY: join(dir, "creds") };
    for (const ref of ["file:%d/token", "file:$CREDENTIALS_DIRECTORY/token", "file:${CREDENTIALS_DIRECTORY}/token"]) {
      expect(resolveSecret(ref, { env, baseDir: "/" })).toEqual({ ok: true, value: "cred-value" });
    }
    const unset = resolveSecret("file:%d/token", { env: {}, baseDir: "/" });
    expect(unset.ok).toBe(false);
    if (!unset.ok) expect(unset.error).toContain("CREDENTIALS_DIRECTORY is not set");
  });

  test("reports a missing or empty file by path", () => {
    expect(resolveSecret("file:/nonexistent/x", { env: {}, baseDir: "/" })).toEqual({
      ok: false,
      error: "file /nonexistent/x: cannot read (ENOENT)",
    });
    writeFileSync(join(dir, "empty"), "\n");
    expect(resolveSecret("file:empty", { env: {}, baseDir: dir })).toEqual({
      ok: false,
      error: `file ${join(dir, "empty")} is empty`,
    });
  });
});
