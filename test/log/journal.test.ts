/**
 * Under systemd the relay's stderr is the journal's stream (JOURNAL_STREAM
 * names its device and inode): each line then starts with its sd-daemon
 * priority, so `journalctl -p warning` keeps warnings and errors only.
 * Anywhere else the lines are bare JSON. The compiled binary, its stderr a
 * file whose device:inode the test hands it as the journal's.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary } from "../support/binary.ts";
import { relayToml, scratchDir, sendEvent } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-journal-");
afterAll(() => tmp.remove());

/** Runs serve until a delivery attempt has failed (a warn line), with stderr in a file; returns its lines. */
async function linesOf(journal: boolean): Promise<string[]> {
  const dir = join(tmp.dir, journal ? "journal" : "plain");
  const bin = await ensureBinary();
  await Bun.write(join(dir, "hookrelay.toml"), relayToml({ targets: [{ url: "http://127.0.0.1:9/closed", schedule: ["0s", "1h"] }] }));
  const log = join(dir, "stderr.log");
  writeFileSync(log, "");
  const st = statSync(log);
  const proc = Bun.spawn([bin, "serve", "--config", "hookrelay.toml"], {
    cwd: dir,
    // Not the journal: a JOURNAL_STREAM naming another file, as a child of a service would inherit.
    env: { PATH: process.env.PATH ?? "", JOURNAL_STREAM: journal ? `${st.dev}:${st.ino}` : `${st.dev}:${st.ino + 1}` },
    stdout: "ignore",
    stderr: Bun.file(log),
  });
  try {
    const listening = await waitFor("the listening line", () => readFileSync(log, "utf8").split("\n").find((l) => l.includes('"msg":"listening"')));
    const publicUrl = `http://${JSON.parse(listening.slice(listening.indexOf("{"))).public}`;
    expect((await sendEvent(publicUrl, '{"id":"journal-1","type":"points.earned"}')).status).toBe(200);
    await waitFor("a failed attempt", () => readFileSync(log, "utf8").includes("attempt failed; will retry"));
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
  return readFileSync(log, "utf8").trim().split("\n");
}

test("with stderr as the journal's stream each line starts with its priority; otherwise lines are bare JSON", async () => {
  const byMsg = (lines: string[], msg: string) => lines.find((l) => l.includes(`"msg":"${msg}"`))!;
  const journal = await linesOf(true);
  expect(byMsg(journal, "listening")).toStartWith('<6>{"time":');
  expect(byMsg(journal, "attempt failed; will retry")).toStartWith("<4>{");
  for (const line of journal) expect(line).toMatch(/^<[3467]>\{.*\}$/);
  const plain = await linesOf(false);
  expect(byMsg(plain, "listening")).toStartWith('{"time":');
  for (const line of plain) expect(() => JSON.parse(line)).not.toThrow();
}, 30_000);

test("why serve could not start reaches the journal at error priority; in a terminal it is plain text", async () => {
  const bin = await ensureBinary();
  const dir = join(tmp.dir, "bad");
  await Bun.write(join(dir, "hookrelay.toml"), `[server]\nmax_body = 12\n`);
  const run = async (journal: boolean) => {
    const log = join(dir, `stderr-${journal}.log`);
    writeFileSync(log, "");
    const st = statSync(log);
    const proc = Bun.spawn([bin, "serve", "--config", "hookrelay.toml"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...(journal ? { JOURNAL_STREAM: `${st.dev}:${st.ino}` } : {}) },
      stdout: "ignore",
      stderr: Bun.file(log),
    });
    expect(await proc.exited).toBe(1);
    return readFileSync(log, "utf8").trim().split("\n");
  };
  const journal = await run(true);
  expect(journal[0]).toMatch(/^<3>hookrelay: .*hookrelay\.toml: \d+ problem\(s\)$/);
  expect(journal.some((l) => l.startsWith("<3>  server.max_body"))).toBe(true);
  for (const line of journal) expect(line).toMatch(/^<[34]>/);
  const plain = await run(false);
  expect(plain[0]).toMatch(/^hookrelay: .*hookrelay\.toml: \d+ problem\(s\)$/);
  expect(plain.some((l) => l.startsWith("  server.max_body"))).toBe(true);
});
