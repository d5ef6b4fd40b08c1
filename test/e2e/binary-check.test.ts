/**
 * `hookrelay check` through the compiled binary: every problem in one pass
 * (schema and cross-field together) with exit 1, warnings for keys that have
 * no effect printed without changing the exit code, and suggestions for
 * misspelt names.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBinary, scratchDir } from "../support/fault-harness.ts";

const tmp = scratchDir("hookrelay-check-");
afterAll(() => tmp.remove());

const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

async function check(toml: string) {
  writeFileSync(join(tmp.dir, "hookrelay.toml"), toml);
  return runBinary(["check", "--config", "hookrelay.toml"], tmp.dir);
}

test("hookrelay check prints every problem at once, schema and cross-field together, and exits 1", async () => {
  const r = await check(`
[server]
listen = "0.0.0.0:8080"
admin_listen = "0.0.0.0:8081"
max_body = 12

[admin]
token = "too-short"

[[sources]]
name = "shop"
verify = { preset = "stripee", secret = "x" }
dedupe = { window = 7 }

[[sources]]
name = "gh"
verify = { preset = "github", secret = "x", tolerance = "1m" }

[[targets]]
name = "orders"
url = "http://10.0.0.5/hooks"
signing = { secret = "not-whsec" }
timeout = "ten"

[[targets]]
name = "alice"
kind = "listen"
token = "short"
concurency = 4
`);
  expect(r.code).toBe(1);
  for (const line of [
    "8 problem(s)",
    'server.max_body: expected a size like "1mb" (b, kb, mb or gb), got 12',
    "admin.token: expected at least 16 characters when server.admin_listen (0.0.0.0:8081) is not a loopback address",
    'sources[0].verify.preset: expected a preset (',
    'got "stripee"; did you mean "stripe"?',
    'sources[0].dedupe.window: expected a duration like "10s" (ms, s, m, h or d), got 7',
    'targets[0].signing.secret: expected "whsec_" followed by base64 of at least 16 random bytes',
    'targets[0].timeout: expected a duration like "10s" (ms, s, m, h or d), got "ten"',
    "targets[1].token: expected at least 16 characters when server.listen (0.0.0.0:8080) is not a loopback address",
    'targets[1].concurency: unknown key; did you mean "concurrency"?',
    'warning: sources[1].verify.tolerance: has no effect: preset "github" signs no timestamp',
  ]) {
    expect(r.stderr).toContain(line);
  }
  // Secrets and tokens are never echoed.
  expect(r.stderr).not.toContain("too-short");
  expect(r.stderr).not.toContain("not-whsec");
  expect(r.stdout).toBe("");
});

test("hookrelay check prints warnings for keys that have no effect and still exits 0", async () => {
  const r = await check(`
[[sources]]
name = "gh"
verify = { preset = "github", secret = "x", tolerance = "1m", url = "https://hooks.example.com/in/gh" }

[[targets]]
name = "orders"
url = "http://10.0.0.5/hooks"
signing = { secret = "${WHSEC}" }
ordered = true
concurrency = 8

[[routes]]
from = "gh"
to = ["orders"]
`);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("config ok: 1 source(s), 1 target(s), 1 route(s)");
  expect(r.stderr).toContain('warning: sources[0].verify.tolerance: has no effect: preset "github" signs no timestamp');
  expect(r.stderr).toContain('warning: sources[0].verify.url: has no effect: preset "github" does not sign the URL');
  expect(r.stderr).toContain("warning: targets[0].concurrency: has no effect with ordered = true (one delivery at a time)");
});

test("a misspelt option is named with the nearest one; `help <command>` is that command's help", async () => {
  const typo = await runBinary(["serve", "--confg", "hookrelay.toml"], tmp.dir);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain("--confg");
  expect(typo.stderr).toContain('did you mean "--config"?');
  expect(typo.stderr).toContain("--help");
  const far = await runBinary(["check", "--zzzzzz"], tmp.dir);
  expect(far.stderr).not.toContain("did you mean");
  // A command that takes positionals too: the suggestion is not lost inside node's quoted aside.
  const listen = await runBinary(["listen", "http://127.0.0.1:1", "--tokn", "x"], tmp.dir);
  expect([listen.code, listen.stderr]).toEqual([2, 'hookrelay: unknown option --tokn; did you mean "--token"? (--help lists the options)\n']);
  expect((await runBinary([], tmp.dir)).code).toBe(2);
  // An option without its value, and one where a command takes none: our words, exit 2.
  const bare = await runBinary(["check", "--config"], tmp.dir);
  expect([bare.code, bare.stderr]).toEqual([2, "hookrelay: --config needs a value (--help lists the options)\n"]);
  const empty = await runBinary(["check", "--config="], tmp.dir);
  expect([empty.code, empty.stderr]).toEqual([2, "hookrelay: --config needs a value (--help lists the options)\n"]);
  const version = await runBinary(["version", "--bogus"], tmp.dir);
  expect([version.code, version.stderr]).toEqual([2, "hookrelay: unknown option --bogus (--help lists the options)\n"]);
  // A config file given where --config is meant.
  const positional = await runBinary(["check", "hookrelay.toml"], tmp.dir);
  expect([positional.code, positional.stderr]).toEqual([2, 'hookrelay: unexpected argument "hookrelay.toml": this command takes none; did you mean "--config hookrelay.toml"? (--help lists the options)\n']);

  const viaHelp = await runBinary(["help", "dev"], tmp.dir);
  const viaFlag = await runBinary(["dev", "--help"], tmp.dir);
  expect(viaHelp.code).toBe(0);
  expect(viaHelp.stdout).toBe(viaFlag.stdout);
  expect(viaHelp.stdout).toContain("--forward-to");
  expect((await runBinary(["help", "nope"], tmp.dir)).stderr).toContain('unknown command "nope"');
  // A misspelt command gets the nearest; a flag first is said to come after the command.
  const misspelt = await runBinary(["serv"], tmp.dir);
  expect([misspelt.code, misspelt.stderr.split("\n")[0]]).toEqual([2, 'hookrelay: unknown command "serv"; did you mean "serve"?']);
  expect((await runBinary(["--config", "x.toml", "serve"], tmp.dir)).stderr.split("\n")[0]).toBe('hookrelay: unknown command "--config"; the command comes first (hookrelay serve --config …)');
  // A flag value a command cannot use is a bad flag too (2), as an unknown flag is.
  const status = await runBinary(["export", "--status", "nope"], tmp.dir);
  expect([status.code, status.stderr]).toEqual([2, "hookrelay export: --status: expected one of pending, delivering, delivered, failed, paused, cancelled, unrouted, got \"nope\"\n"]);
  const force = await runBinary(["export", "--force"], tmp.dir);
  expect([force.code, force.stderr]).toEqual([2, "hookrelay export: --force goes with --out FILE (it lets the export replace that file); without --out the export goes to standard output\n"]);
});

test("version names the build: the commit the binary was built from and the day; version --help is help", async () => {
  const commit = Bun.spawnSync(["git", "rev-parse", "--short=10", "HEAD"], { cwd: import.meta.dir }).stdout.toString().trim();
  const v = await runBinary(["version"], tmp.dir);
  expect(v.code).toBe(0);
  expect(v.stdout).toMatch(new RegExp(`^hookrelay \\d+\\.\\d+\\.\\d+ \\(${commit}(\\+changes)?, built \\d{4}-\\d{2}-\\d{2}\\)\\n$`));
  const help = await runBinary(["version", "--help"], tmp.dir);
  expect(help.stdout).toStartWith("Usage: hookrelay version");
});

test("with only the binary, init writes a config that check accepts and serve can start from; it never overwrites unasked", async () => {
  const empty = scratchDir("hookrelay-init-");
  try {
    const missing = await runBinary(["check"], empty.dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("hookrelay init");

    const init = await runBinary(["init"], empty.dir);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("DEMO");
    const file = join(empty.dir, "hookrelay.toml");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const written = readFileSync(file, "utf8");
    expect(written).toContain('[[sources]]\nname = "demo"');
    // Its header's commands are for the file written, not the repository's example.
    expect(written).toContain("#   hookrelay check   ");
    expect(written).not.toContain("hookrelay.example.toml");

    const checked = await runBinary(["check"], empty.dir);
    expect({ code: checked.code, stderr: checked.stderr }).toEqual({ code: 0, stderr: "" });

    writeFileSync(file, "# mine\n");
    const again = await runBinary(["init"], empty.dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("--force");
    expect(readFileSync(file, "utf8")).toBe("# mine\n");
    expect((await runBinary(["init", "--force"], empty.dir)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(written);

    // A file replaced with --force is the owner's alone again, and a link is replaced, never written through.
    writeFileSync(file, "# mine\n", { mode: 0o644 });
    chmodSync(file, 0o644);
    expect((await runBinary(["init", "--force"], empty.dir)).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const victim = join(empty.dir, "victim.txt");
    writeFileSync(victim, "IMPORTANT\n", { mode: 0o644 });
    symlinkSync(victim, join(empty.dir, "linked.toml"));
    expect((await runBinary(["init", "--config", "linked.toml", "--force"], empty.dir)).code).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("IMPORTANT\n");
    expect(lstatSync(join(empty.dir, "linked.toml")).isSymbolicLink()).toBe(false);
    // A link to nothing is not followed to make a file where it points.
    symlinkSync(join(empty.dir, "elsewhere.toml"), join(empty.dir, "dangling.toml"));
    const dangling = await runBinary(["init", "--config", "dangling.toml"], empty.dir);
    expect(dangling.code).toBe(1);
    expect(dangling.stderr).toContain("is a symbolic link to a file that does not exist");
    expect(existsSync(join(empty.dir, "elsewhere.toml"))).toBe(false);
    // A directory is not a file to write, --force or not.
    const dir = await runBinary(["init", "--config", empty.dir, "--force"], empty.dir);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain("is a directory; name the file to write");
  } finally {
    empty.remove();
  }
});
