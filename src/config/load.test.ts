import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "./defaults.ts";
import { loadConfig, readConfigFile, type LoadResult } from "./load.ts";
import { parseDurationMs } from "./units.ts";

const dir = mkdtempSync(join(tmpdir(), "hookrelay-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

const BASE = `
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "lit-secret" }

[[targets]]
name = "orders"
url = "http://10.0.0.5:3000/webhooks"
signing = { secret = "${WHSEC}" }

[[routes]]
from = "ploints"
to = "orders"
`;

function load(text: string, env: Record<string, string | undefined> = {}): LoadResult {
  return loadConfig(text, { env, baseDir: dir });
}

function problemsOf(text: string, env: Record<string, string | undefined> = {}): string[] {
  const result = load(text, env);
  if (result.ok) throw new Error("expected problems, config loaded");
  return result.problems;
}

function configOf(text: string, env: Record<string, string | undefined> = {}) {
  const result = load(text, env);
  if (!result.ok) throw new Error(`unexpected problems:\n${result.problems.join("\n")}`);
  return result;
}

const ms = (d: string) => (parseDurationMs(d) as { value: number }).value;

describe("loadConfig", () => {
  test("a wrong type and an unset env secret are both reported, each under its key path", () => {
    const problems = problemsOf(`
[server]
max_body = 12

[[sources]]
name = "other"
verify = { preset = "ploints", secret = "x" }

[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "env:PLOINTS_SECRET" }
dedupe = { window = 7 }

[[targets]]
name = "orders"
url = "http://10.0.0.5/hooks"
timeout = "ten"
`);
    expect(problems).toContain('server.max_body: expected a size like "1mb" (b, kb, mb or gb), got 12');
    expect(problems).toContain("sources[1].verify.secret: env var PLOINTS_SECRET is not set");
    expect(problems).toContain('sources[1].dedupe.window: expected a duration like "10s" (ms, s, m, h or d), got 7');
    expect(problems).toContain('targets[0].timeout: expected a duration like "10s" (ms, s, m, h or d), got "ten"');
  });

  test("a deadline, tolerance or retention of 0 is a problem: it would mean at once, or never", () => {
    const problems = problemsOf(`
[server]
read_timeout = "0s"
[store]
retention = "0s"
[[sources]]
name = "slack"
verify = { preset = "slack", secret = "s", tolerance = "0s" }
[[targets]]
name = "orders"
url = "http://10.0.0.5/hooks"
timeout = "0s"
connect_timeout = "0ms"
disable_after = "0s"
`);
    const zero = 'expected a duration longer than 0 (like "30s")';
    for (const key of ["server.read_timeout", "store.retention", "sources[0].verify.tolerance", "targets[0].timeout", "targets[0].connect_timeout", "targets[0].disable_after"])
      expect(problems).toContain(`${key}: ${zero}`);
  });

  test("a body cap of 0 and a read_timeout past the HTTP server's idle limit are problems", () => {
    const problems = problemsOf(`[server]\nmax_body = "0b"\nmax_inflight = "0b"\nread_timeout = "251s"\n`);
    expect(problems).toContain('server.max_body: expected a size larger than 0 (like "1mb")');
    expect(problems).toContain('server.max_inflight: expected a size larger than 0 (like "1mb")');
    expect(problems).toContain("server.read_timeout: expected at most 250s (the HTTP server's own idle limit is 255 s)");
    expect(() => configOf(`[server]\nread_timeout = "250s"\n`)).not.toThrow();
  });

  test("a deadline longer than a timer keeps (24.8 days) is a problem: it would fire at once", () => {
    const problems = problemsOf(`[store]\nbusy_timeout = "30d"\n${BASE.replace('url = "http://10.0.0.5:3000/webhooks"', 'url = "http://10.0.0.5:3000/webhooks"\ntimeout = "30d"\nconnect_timeout = "25d"')}`);
    for (const key of ["store.busy_timeout", "targets[0].timeout", "targets[0].connect_timeout"]) expect(problems).toContain(`${key}: expected at most 24d (a timer waits no longer)`);
    expect(configOf(`${BASE.replace('url = "http://10.0.0.5:3000/webhooks"', 'url = "http://10.0.0.5:3000/webhooks"\ntimeout = "24d"')}`).config.targets[0]!.timeoutMs).toBe(24 * 86_400_000);
  });

  test("a store in memory, a file: URL without a path and a directory are refused", () => {
    const memory = "an in-memory database keeps nothing across a restart, and the relay acknowledges only what it has stored durably: give a file (file:./data/hookrelay.db)";
    for (const url of ["file::memory:", ":memory:", "file:x.db?mode=memory&cache=shared"]) expect(problemsOf(`[store]\nurl = "${url}"\n`)).toEqual([`store.url: ${memory}`]);
    expect(problemsOf(`[store]\nurl = "file:"\n`)).toEqual(["store.url: expected a file path after file: (like file:./data/hookrelay.db), got none"]);
    expect(problemsOf(`[store]\nurl = "file:./dir/"\n`)).toEqual(['store.url: expected a file path, got a directory ("./dir/"); name the file in it, like "./dir/hookrelay.db"']);
    expect(problemsOf(`[store]\nurl = "file::MEMORY:"\n`)).toEqual([`store.url: ${memory}`]);
    for (const path of ["./a%20b.db", "./a b#c.db"])
      expect(problemsOf(`[store]\nurl = "file:${path}"\n`)).toEqual([`store.url: expected the file's path as it is, without % escapes or # (got "${path}"); rename a file whose name has them`]);
    expect(problemsOf(`[store]\nurl = "file:~/relay/h.db"\n`)).toEqual([
      'store.url: expected a path without ~ (nothing expands it here: it would be a directory named "~"), got "~/relay/h.db"; write the full path, like file:/home/relay/hookrelay.db',
    ]);
    expect(problemsOf(`[store]\nurl = "file://tmp/h.db"\n`)).toEqual(['store.url: expected file:/absolute/path or file:///absolute/path, got "file://tmp/h.db", whose first name is read as a host']);
    for (const url of ["file:///tmp/h.db", "file://localhost/tmp/h.db", "file:/tmp/h.db"]) expect(() => configOf(`[store]\nurl = "${url}"\n`)).not.toThrow();
    expect(() => configOf(`[store]\nurl = "file:./a b.db"\n`)).not.toThrow();
    expect(() => configOf(`[store]\nurl = "file:./data/relay.db"\n`)).not.toThrow();
  });

  test("a retention shorter than the overview needs is warned about", () => {
    expect(configOf(`[store]\nretention = "3m"\n`).warnings).toContain(
      "store.retention: 3m is shorter than the overview needs (11m): its figures are summed from the stored events and attempts 5 minutes after each 5-minute step ends, and these would be gone",
    );
    expect(configOf(`[store]\nretention = "1h"\n`).warnings.filter((w) => w.startsWith("store.retention"))).toEqual([]);
    // Under an hour, the admin figures read from stored rows undercount, leaning towards failures.
    const half = configOf(`[store]\nretention = "30m"\n`).warnings.filter((w) => w.startsWith("store.retention"));
    expect(half).toHaveLength(1);
    expect(half[0]).toStartWith("store.retention: 30m is shorter than the window the targets' success rate is read over (1h): they count only what retention keeps");
    const short = configOf(`[store]\nretention = "10m"\n`).warnings.filter((w) => w.startsWith("store.retention: 10m is shorter than the windows"));
    expect(short[0]).toStartWith("store.retention: 10m is shorter than the windows the targets' success rate (1h) and the sources' recent counts (15m) are read over");
  });

  test("a route to an empty list says so", () => {
    expect(problemsOf(BASE.replace('to = "orders"', "to = []"))).toEqual(["routes[0].to: expected a target name or a non-empty list of them, got an empty list"]);
  });

  test("a target URL with a user name or password is refused, pointing to auth, without echoing them", () => {
    const problems = problemsOf(`
[[targets]]
name = "orders"
url = "http://relay:supersecretpw@10.0.0.5/hooks"
`);
    expect(problems).toEqual(['targets[0].url: a user name or password in the URL is not sent; give it as auth = { basic = { username = "…", password = "env:…" } }']);
  });

  test("a target URL may be read from a secret (an incoming-webhook URL is the credential), and its problems never show it", () => {
    const slack = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";
    const { config } = configOf(`[[targets]]\nname = "ops"\nurl = "env:SLACK_URL"\nformat = "slack"\n`, { SLACK_URL: `${slack}\n` });
    expect(config.targets[0]).toMatchObject({ url: slack, urlIsSecret: true });
    expect(configOf(`[[targets]]\nname = "plain"\nurl = "https://example.com/hooks"\n`).config.targets[0]!.urlIsSecret).toBeUndefined();
    expect(problemsOf(`[[targets]]\nname = "ops"\nurl = "env:SLACK_URL"\n`)).toEqual(["targets[0].url: env var SLACK_URL is not set"]);
    const bad = problemsOf(`[[targets]]\nname = "ops"\nurl = "env:SLACK_URL"\n`, { SLACK_URL: "ftp://hooks.example/XXXXsecretXXXX" });
    expect(bad).toEqual(["targets[0].url: expected an http:// or https:// URL, got a ftp: URL (read from env:)"]);
    expect(bad.join()).not.toContain("XXXXsecretXXXX");
  });

  test("a Standard Webhooks or Svix source secret that is not base64 is a problem (it would reject every request), never shown", () => {
    const src = (preset: string, secret: string) => `[[sources]]\nname = "s"\nverify = { preset = "${preset}", secret = ${secret} }\n`;
    const msg = 'expected the provider\'s signing secret as given: "whsec_" followed by base64 (or the base64 alone)';
    expect(problemsOf(src("standard-webhooks", '"whsec_not base64!!"'))).toEqual([`sources[0].verify.secret: ${msg}`]);
    expect(problemsOf(src("svix", '["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_oops-not-base64"]'))).toEqual([`sources[0].verify.secret[1]: ${msg}`]);
    for (const ok of ['"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"', '"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"']) expect(() => configOf(src("standard-webhooks", ok))).not.toThrow();
  });

  test("an archive path that is a file, not a directory, is a problem", () => {
    const problems = problemsOf(`[store]\narchive = "${import.meta.path}"`);
    expect(problems).toEqual([`store.archive: expected a directory, but ${import.meta.path} is a file`]);
    expect(() => configOf(`[store]\narchive = "${import.meta.dir}"`)).not.toThrow();
  });

  test("names the index of a failing secret in a rotation list", () => {
    const problems = problemsOf(BASE.replace('secret = "lit-secret"', 'secret = ["env:NEW", "env:OLD"]'), { NEW: "n" });
    expect(problems).toEqual(["sources[0].verify.secret[1]: env var OLD is not set"]);
  });

  test("an unknown key is a problem, so typos are caught", () => {
    const problems = problemsOf(BASE.replace("verify = {", "verfy = {"));
    expect(problems).toContain('sources[0].verfy: unknown key; did you mean "verify"?');
    expect(problems).toContain("sources[0].verify: required");
    expect(problemsOf(`log_levl = "info"\n${BASE}`)).toEqual(['log_levl: unknown key; did you mean "log_level"?']);
    // TOML puts a key written after [[routes]] inside the last route: still caught.
    expect(problemsOf(`${BASE}\nlog_levl = "info"`)).toEqual(["routes[0].log_levl: unknown key"]);
    expect(problemsOf(`${BASE}\n[server]\nlisten_addr = ":80"`)).toEqual(['server.listen_addr: unknown key; did you mean "listen"?']);
  });

  test("a value that looks like a mistyped secret reference is warned about, never quoted", () => {
    const { warnings } = configOf(BASE.replace('secret = "lit-secret"', 'secret = ["ENV:PLOINTS_SECRET", "$OLD_SECRET"]').replace("[[targets]]", '[admin]\ntoken = "Env: TOKEN"\n[[targets]]'), { PLOINTS_SECRET: "x" });
    expect(warnings).toContain('sources[0].verify.secret[0]: starts with "ENV:": a secret reference is env:NAME or file:/path, in lower case, with no space before the colon; this is used as the literal text');
    expect(warnings).toContain("sources[0].verify.secret[1]: is a shell variable ($OLD_SECRET): the config file is not expanded, so this is used as the literal text; write env:OLD_SECRET");
    expect(warnings.some((w) => w.startsWith("admin.token: starts with \"Env:\""))).toBe(true);
    expect(warnings.join("\n")).not.toContain("PLOINTS_SECRET\"");
    // Not where a value is no secret: a route filter's "$push", an event type glob.
    const plain = configOf(BASE.replace('to = "orders"', 'to = "orders"\nevent_types = ["$push"]\nfilter.body = { op = "$push", token = "$USD", user = { username = "ENV:prod" } }')).warnings;
    expect(plain.filter((w) => w.includes("shell variable") || w.includes("secret reference"))).toEqual([]);
  });

  test("a first retry delay is said not to apply: the first attempt goes at once", () => {
    const { warnings } = configOf(BASE.replace("[[targets]]", '[[targets]]\nretry = { schedule = ["3s", "1m"] }'));
    expect(warnings).toContain('targets[0].retry.schedule[0]: the first attempt goes at once: a first delay of 3s is not applied (write "0s"; the later entries are the retries\' delays)');
  });

  test("a connect_timeout longer than the timeout is said: the timeout bounds the whole attempt", () => {
    const { warnings } = configOf(BASE.replace("[[targets]]", '[[targets]]\ntimeout = "5s"\nconnect_timeout = "30s"'));
    expect(warnings).toContain("targets[0].connect_timeout: is longer than timeout (5s), which bounds the whole attempt, connecting included");
  });

  test("a dedupe window shorter than twice the tolerance of a timestamp-signed source is a warning; a source signing no timestamp has none", () => {
    const source = (verify: string, window: string) => `[[sources]]\nname = "s"\nverify = ${verify}\ndedupe = { window = "${window}" }\n[[targets]]\nname = "t"\nurl = "https://example.com/h"\nsigning = { secret = "${WHSEC}" }\n[[routes]]\nfrom = "s"\nto = ["t"]\n`;
    const said = (window: string, tolerance: string, twice: string) =>
      `sources[0].dedupe.window: ${window} is shorter than twice verify.tolerance (${tolerance}): a signed request stays valid for up to twice the tolerance (its timestamp may be ahead of the relay's clock by as much as behind it), and a replay after the window but within that is accepted as a new event and forwarded again; a window of at least ${twice} answers every replay as a duplicate`;
    expect(configOf(source(`{ preset = "stripe", secret = "whsec_sk", tolerance = "1h" }`, "1m")).warnings).toEqual([said("1m", "1h", "2h")]);
    // As long as the tolerance is not enough: a copy signed ahead of the clock is still valid after it.
    expect(configOf(source(`{ preset = "stripe", secret = "whsec_sk", tolerance = "1h" }`, "1h")).warnings).toEqual([said("1h", "1h", "2h")]);
    expect(configOf(source(`{ preset = "stripe", secret = "whsec_sk", tolerance = "1h" }`, "2h")).warnings).toEqual([]);
    expect(configOf(source(`{ scheme = "hmac", header = "x-sig", secret = "k", timestamp_header = "x-ts", signed = "{timestamp}.{body}" }`, "1m")).warnings).toEqual([said("1m", "5m", "10m")]);
    expect(configOf(source(`{ preset = "github", secret = "k" }`, "1m")).warnings).toEqual([]);
  });

  test("a known key in the wrong table is pointed to where it belongs", () => {
    // Appended to the file, it lands in the last [[routes]] table.
    expect(problemsOf(`${BASE}\nlog_level = "debug"`)).toEqual(["routes[0].log_level: unknown key (it belongs in the top level (before the first [table]))"]);
    expect(problemsOf(`${BASE}\n[server]\nretention = "7d"`)).toEqual(["server.retention: unknown key (it belongs in [store])"]);
    expect(problemsOf(BASE.replace("[[targets]]", '[[targets]]\nschedule = ["1s"]'))).toContain("targets[0].schedule: unknown key (it belongs in [[targets]] retry)");
  });

  test("applies every default when keys are left out", () => {
    const { config, warnings } = configOf(`
[[sources]]
name = "s"
verify = { preset = "stripe", secret = "whsec_sk" }

[[targets]]
name = "t"
url = "https://example.com/hooks"

[[routes]]
from = "s"
to = ["t"]
`);
    expect(config.server).toEqual({
      listen: { host: "0.0.0.0", port: 8080 },
      adminListen: { host: "127.0.0.1", port: 8081 },
      publicUrl: null,
      maxBodyBytes: 1024 * 1024,
      readTimeoutMs: 30_000,
      maxInflightBytes: 64 * 1024 * 1024,
      trustedProxies: [],
    });
    expect(config.store).toEqual({ url: "file:./data/hookrelay.db", retentionMs: ms("14d"), busyTimeoutMs: 5000, search: true });
    expect(config.admin).toEqual({ token: null });
    expect(config.logLevel).toBe("info");
    expect(config.sources[0]).toEqual({
      name: "s",
      verify: { kind: "preset", preset: "stripe", secrets: ["whsec_sk"], toleranceSec: 300 },
      // Left out: the preset's defaults, filled in here once.
      dedupeKeys: [{ kind: "json", path: ["id"] }],
      dedupeWindowMs: ms("7d"),
      eventType: [{ kind: "json", path: ["type"] }],
      forwardHeaders: ["stripe-signature"],
      allowIps: null,
    });
    expect(config.targets[0]).toEqual({
      name: "t",
      kind: "push",
      url: "https://example.com/hooks",
      signingSecrets: [],
      token: null,
      timeoutMs: 10_000,
      connectTimeoutMs: 5_000,
      retry: { scheduleMs: [0, 5_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000], jitter: 0.2 },
      concurrency: 16,
      ratePerSec: null,
      ordered: false,
      disableAfterMs: ms("3d"),
      enabled: true,
      headers: [],
      auth: null,
      tls: null,
      format: "raw",
    });
    expect(config.routes).toEqual([{ from: "s", to: ["t"], eventTypes: null }]);
    expect(warnings).toEqual(["targets[0].signing: no signing secret; deliveries carry no webhook-signature"]);
  });

  test("a slack-format target without a signing secret is no warning: an incoming webhook checks none", () => {
    const { warnings } = configOf(BASE.replace(`signing = { secret = "${WHSEC}" }`, 'format = "slack"'));
    expect(warnings.filter((w) => w.includes("signing"))).toEqual([]);
  });

  test("every bad value reference in a list is reported under its index", () => {
    const problems = problemsOf(BASE.replace('secret = "lit-secret" }', 'secret = "lit-secret" }\ndedupe = { key = ["$.id", "hdr:X", "$.a..b"] }\nevent_type = "nope"'));
    expect(problems).toContain('sources[0].dedupe.key[1]: expected "$.json.path", "header:Name" or "query:name" (or a list of them), got "hdr:X"');
    expect(problems).toContain('sources[0].dedupe.key[2]: expected "$.json.path", "header:Name" or "query:name" (or a list of them), got "$.a..b"');
    expect(problems).toContain('sources[0].event_type: expected "$.json.path", "header:Name" or "query:name" (or a list of them), got "nope"');
  });

  test("a route by event type from a source that reads no type is warned about: it would take nothing", () => {
    const { warnings } = configOf(`
[[sources]]
name = "plain"
verify = { scheme = "none" }
[[targets]]
name = "t"
url = "http://10.0.0.5/hooks"
signing = { secret = "${WHSEC}" }
[[routes]]
from = "plain"
to = "t"
event_types = ["*"]
`);
    expect(warnings).toContain('routes[0].event_types: source "plain" reads no event type (set its event_type), so its events are untyped and this route takes none of them');
    // A preset's own event type counts.
    expect(configOf(BASE.replace('to = "orders"', 'to = "orders"\nevent_types = ["*"]')).warnings.filter((w) => w.includes("reads no event type"))).toEqual([]);
  });

  test("a secret with whitespace at either end is warned about, by its place in a rotation list; the value is kept as written", () => {
    const padded = "starts or ends with whitespace (a line break from an env var or a copy and paste?); it is used as written, and the provider signs with the secret without it";
    const one = configOf(BASE.replace('secret = "lit-secret"', 'secret = "env:WS"'), { WS: "whsec_abc\n" });
    expect(one.warnings).toContain(`sources[0].verify.secret: ${padded}`);
    const list = configOf(BASE.replace('secret = "lit-secret"', 'secret = ["new-secret", " old-secret"]'));
    expect(list.warnings).toContain(`sources[0].verify.secret[1]: ${padded}`);
    expect(list.warnings.filter((w) => w.includes("whitespace"))).toHaveLength(1);
    expect(configOf(BASE).warnings.filter((w) => w.includes("whitespace"))).toEqual([]);
  });

  test("a Stripe secret that is not a webhook signing secret (an API key pasted instead) is warned about, never shown", () => {
    const stripe = (secret: string) => configOf(BASE.replace('{ preset = "ploints", secret = "lit-secret" }', `{ preset = "stripe", secret = ${secret} }`)).warnings.filter((w) => w.includes("Stripe"));
    const said = 'Stripe\'s webhook signing secret starts with "whsec_": the endpoint\'s "Signing secret" in the Dashboard, or the one `stripe listen` prints';
    expect(stripe('"sk_test_51Habc"')).toEqual([`sources[0].verify.secret: ${said} (this looks like an API key, which cannot verify a webhook)`]);
    expect(stripe('["whsec_new", "rk_live_old"]')).toEqual([`sources[0].verify.secret[1]: ${said} (this looks like an API key, which cannot verify a webhook)`]);
    expect(stripe('"mysecret"')).toEqual([`sources[0].verify.secret: ${said}`]);
    expect(stripe('"whsec_abc"')).toEqual([]);
    expect(stripe('"sk_test_51Habc"').join(" ")).not.toContain("51Habc");
  });

  test("forward_headers names that are never forwarded are warned about", () => {
    const { warnings } = configOf(BASE.replace('secret = "lit-secret" }', 'secret = "lit-secret" }\nforward_headers = ["Host", "x-ok", "connection", "webhook-id", "Content-Type", "hookrelay-source"]'));
    expect(warnings).toContain(
      "sources[0].forward_headers: never forwarded, whatever this says: host, connection, webhook-id, hookrelay-source (hop-by-hop, the inbound request's own, a credential for the relay, or set by hookrelay on every delivery)",
    );
  });

  test("forwarding the source's own credential header is warned about: the target would get the redacted placeholder", () => {
    const points = BASE.replace('verify = { preset = "ploints", secret = "lit-secret" }', 'verify = { preset = "points", secret = "lit-secret" }\nforward_headers = ["x-webhook-event", "X-Webhook-Secret"]');
    expect(configOf(points).warnings).toContain(
      'sources[0].forward_headers: x-webhook-secret carries this source\'s secret and is stored redacted: the target would get "[redacted: N chars]", not the value; give the target its own credentials (targets\' auth)',
    );
    expect(configOf(BASE).warnings.filter((w) => w.includes("stored redacted"))).toEqual([]);
  });

  test("a route with a problem of its own brings no 'no route' warnings for what it names", () => {
    const result = load(BASE.replace('to = "orders"', 'to = "orders"\nevent_types = 5'));
    expect(result.ok).toBe(false);
    expect((result.warnings ?? []).filter((w) => w.includes("no route"))).toEqual([]);
    // `from` written as a list, as `to` may be: its sources are not said to have no route.
    const listed = load(BASE.replace('from = "ploints"', 'from = ["ploints"]'));
    expect(listed.ok).toBe(false);
    expect((listed.warnings ?? []).filter((w) => w.includes("no route"))).toEqual([]);
  });

  test("a dedupe window longer than the retention is said: the source's raw requests are kept that long", () => {
    const short = configOf(`[store]\nretention = "20s"\n${BASE}`);
    expect(short.warnings).toContain(
      'sources[0].dedupe.window: 7d (the default) is longer than store.retention (20s): source "ploints" keeps its events, body and headers included, 7d so that a late duplicate is still recognised; a window no longer than the retention keeps them no longer',
    );
    const set = configOf(`[store]\nretention = "1d"\n${BASE.replace('secret = "lit-secret" }', 'secret = "lit-secret" }\ndedupe = { window = "36h" }')}`);
    expect(set.warnings.filter((w) => w.includes("dedupe.window"))).toEqual([
      expect.stringMatching(/^sources\[0\]\.dedupe\.window: 36h is longer than store\.retention \(1d\)/),
    ]);
    // Within the retention (the defaults, 7d against 14d): nothing to say.
    expect(configOf(BASE).warnings.filter((w) => w.includes("dedupe.window"))).toEqual([]);
  });

  test("reads every key when given", () => {
    const { config } = configOf(`
log_level = "debug"
[server]
listen = ":9000"
admin_listen = "[::1]:9001"
public_url = "https://hooks.example.com/"
max_body = "512kb"
read_timeout = "5s"
max_inflight = "8mb"
trusted_proxies = ["10.0.0.0/8"]
[store]
url = "libsql://db.example.com"
retention = "2d"
busy_timeout = "500ms"
search = false

[[sources]]
name = "custom"
verify = { scheme = "hmac", header = "X-Signature", algorithm = "sha512", encoding = "base64", prefix = "v1=",
           signed = "{timestamp}.{url}.{body}", timestamp_header = "X-Ts", tolerance = "1m", secret = ["a", "b"] }
dedupe = { key = ["$.data.id", "header:X-Delivery"], window = "1d" }
event_type = ["$.type", "header:X-Event"]
forward_headers = ["X-Event", "x-event"]
allow_ips = ["192.30.252.0/22"]

[[targets]]
name = "alice"
kind = "listen"
token = "env:ALICE"
signing = { secret = ["${WHSEC}", "${WHSEC}"] }
retry = { schedule = ["1s"], jitter = 0 }
concurrency = 1
rate = "10/m"
ordered = true
disable_after = "1h"
enabled = false
timeout = "2s"
connect_timeout = "1s"

[[routes]]
from = "custom"
to = "alice"
event_types = ["order.*"]
`, { ALICE: "alice-token-0123456789" });
    expect(config.logLevel).toBe("debug");
    expect(config.server).toEqual({
      listen: { host: "0.0.0.0", port: 9000 },
      adminListen: { host: "::1", port: 9001 },
      publicUrl: "https://hooks.example.com",
      maxBodyBytes: 512 * 1024,
      readTimeoutMs: 5000,
      maxInflightBytes: 8 * 1024 * 1024,
      trustedProxies: [{ groups: [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0], prefixBits: 104, text: "10.0.0.0/8" }],
    });
    expect(config.store).toEqual({ url: "libsql://db.example.com", retentionMs: ms("2d"), busyTimeoutMs: 500, search: false });
    expect(config.sources[0]).toEqual({
      name: "custom",
      verify: {
        kind: "hmac",
        header: "x-signature",
        algorithm: "sha512",
        encoding: "base64",
        prefix: "v1=",
        signed: "{timestamp}.{url}.{body}",
        secrets: ["a", "b"],
        timestampHeader: "x-ts",
        toleranceSec: 60,
      },
      dedupeKeys: [
        { kind: "json", path: ["data", "id"] },
        { kind: "header", name: "x-delivery" },
      ],
      dedupeWindowMs: ms("1d"),
      eventType: [
        { kind: "json", path: ["type"] },
        { kind: "header", name: "x-event" },
      ],
      forwardHeaders: ["x-event"],
      allowIps: [{ groups: [0, 0, 0, 0, 0, 0xffff, 0xc01e, 0xfc00], prefixBits: 118, text: "192.30.252.0/22" }],
    });
    expect(config.targets[0]).toMatchObject({
      kind: "listen",
      token: "alice-token-0123456789",
      signingSecrets: [WHSEC, WHSEC],
      retry: { scheduleMs: [1000], jitter: 0 },
      concurrency: 1,
      ratePerSec: 10 / 60,
      ordered: true,
      disableAfterMs: 3_600_000,
      enabled: false,
      timeoutMs: 2000,
      connectTimeoutMs: 1000,
    });
    expect(config.routes).toEqual([{ from: "custom", to: ["alice"], eventTypes: ["order.*"] }]);
  });

  test("refuses duplicate and malformed names", () => {
    const problems = problemsOf(`${BASE}
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "x" }

[[targets]]
name = "Orders!"
url = "http://10.0.0.6/"
`);
    expect(problems).toContain('sources[1].name: duplicate name "ploints" (also sources[0])');
    expect(problems).toContain('targets[1].name: expected lower-case letters, digits, "-" and "_" (like "orders"), got "Orders!"');
  });

  test("refuses a route to a missing target or from a missing source", () => {
    const problems = problemsOf(`${BASE}
[[routes]]
from = "nope"
to = ["orders", "missing"]
`);
    expect(problems).toEqual(['routes[1].from: no source named "nope"', 'routes[1].to[1]: no target named "missing"']);
  });

  test("a route with a problem of its own still has what it names checked: every problem at once", () => {
    const problems = problemsOf(`${BASE}
[[routes]]
from = "ploints"
to = ["orders", "nope"]
event_types = []
`);
    expect(problems).toContain('routes[1].to[1]: no target named "nope"');
    expect(problems.some((p) => p.startsWith("routes[1].event_types: "))).toBe(true);
  });

  test("a route to a listen target is fine", () => {
    const { config } = configOf(`${BASE}
[[targets]]
name = "alice"
kind = "listen"
token = "t0ken-value-0123456789"

[[routes]]
from = "ploints"
to = "alice"
`);
    expect(config.routes[1]).toEqual({ from: "ploints", to: ["alice"], eventTypes: null });
  });

  test("refuses link-local and cloud metadata target hosts in any spelling", () => {
    for (const host of ["2852039166", "169.254.169.254", "0xa9fea9fe", "[::ffff:169.254.169.254]", "[fe80::1]", "metadata.google.internal"]) {
      const problems = problemsOf(BASE.replace("10.0.0.5:3000", host));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith("targets[0].url: host ");
      expect(problems[0]).toEndWith("is link-local or a cloud metadata address; refused");
    }
    expect(problemsOf(BASE.replace("http://10.0.0.5:3000", "ftp://10.0.0.5"))).toEqual([
      "targets[0].url: expected an http:// or https:// URL, got a ftp: URL",
    ]);
    // A host and port without the scheme reads as a URL of scheme "localhost:": say what was meant,
    // never echoing what follows the port (a path or query may be the credential).
    expect(problemsOf(BASE.replace("http://10.0.0.5:3000", "localhost:3000"))).toEqual([
      'targets[0].url: expected an http:// or https:// URL, got a localhost: URL; did you mean "http://localhost:3000/…"?',
    ]);
    const secret = problemsOf(BASE.replace("http://10.0.0.5:3000/webhooks", "hooks.example.com:443/services/T0/B0/SECRETTOKEN?token=s3cr3t"));
    expect(secret).toEqual(['targets[0].url: expected an http:// or https:// URL, got a hooks.example.com: URL; did you mean "http://hooks.example.com:443/…"?']);
    // An address literal too, which does not read as a URL at all.
    expect(problemsOf(BASE.replace("http://10.0.0.5:3000/webhooks", "127.0.0.1:3000"))).toEqual([
      'targets[0].url: expected an http:// or https:// URL, got something that is not a URL; did you mean "http://127.0.0.1:3000"?',
    ]);
    expect(problemsOf(BASE.replace("http://10.0.0.5:3000/webhooks", "[::1]:3000/x?k=s3cr3t"))).toEqual([
      'targets[0].url: expected an http:// or https:// URL, got something that is not a URL; did you mean "http://[::1]:3000/…"?',
    ]);
  });

  test("requires an admin token when the admin side listens off loopback", () => {
    expect(problemsOf(`${BASE}\n[server]\nadmin_listen = "0.0.0.0:8081"`)).toEqual([
      "admin.token: required when server.admin_listen (0.0.0.0:8081) is not a loopback address",
    ]);
    const withToken = configOf(`${BASE}\n[server]\nadmin_listen = "0.0.0.0:8081"\n[admin]\ntoken = "env:TOK"`, { TOK: "admin-token-0123456789" });
    expect(withToken.config.admin.token).toBe("admin-token-0123456789");
    for (const addr of ["127.0.0.1:8081", "127.5.0.1:1", "localhost:8081", "[::1]:8081"]) {
      configOf(`${BASE}\n[server]\nadmin_listen = "${addr}"`);
    }
    expect(problemsOf(`${BASE}\n[server]\nlisten = "0.0.0.0:8080"\nadmin_listen = "127.0.0.1:8080"`)).toEqual([
      "server.admin_listen: same port as server.listen (0.0.0.0:8080); the admin side must be separate",
    ]);
  });

  test("refuses a max_inflight that one body of max_body would not fit in", () => {
    expect(problemsOf(`${BASE}\n[server]\nmax_body = "2mb"\nmax_inflight = "1mb"`)).toEqual([
      "server.max_inflight: 1048576 bytes is less than server.max_body (2097152 bytes); a body that size would always get 503",
    ]);
    expect(configOf(`${BASE}\n[server]\nmax_body = "2mb"\nmax_inflight = "2mb"`).config.server.maxInflightBytes).toBe(2 * 1024 * 1024);
  });

  test("reads file: secrets relative to the config file's directory", () => {
    writeFileSync(join(dir, "ploints.secret"), "from-a-file\n");
    const { config } = configOf(BASE.replace('"lit-secret"', '"file:ploints.secret"'));
    expect(config.sources[0]!.verify).toMatchObject({ secrets: ["from-a-file"] });
    expect(problemsOf(BASE.replace('"lit-secret"', '"file:missing.secret"'))).toEqual([
      `sources[0].verify.secret: file ${join(dir, "missing.secret")}: cannot read (ENOENT)`,
    ]);
  });

  test("never puts a secret value in a problem message", () => {
    const SECRET = "hunter2-TOP-SECRET";
    writeFileSync(join(dir, "bad-whsec"), `${SECRET}\n`);
    const cases = [
      // A signing secret that is not whsec_ base64, as a literal, from env and from a file.
      BASE.replace(`"${WHSEC}"`, `"${SECRET}"`),
      BASE.replace(`"${WHSEC}"`, '"env:ORDERS_WHSEC"'),
      BASE.replace(`"${WHSEC}"`, '"file:bad-whsec"'),
      BASE.replace(`"${WHSEC}"`, '"whsec_aGk="'), // too short: 2 bytes
      // Secrets in the wrong type or in a key that is not used.
      BASE.replace('secret = "lit-secret"', `secret = { v = "${SECRET}" }`),
      BASE.replace('secret = "lit-secret"', `secret = "x", username = "${SECRET}", header = "${SECRET}"`),
      `${BASE}\n[admin]\ntoken = ["${SECRET}"]`,
      // Unquoted in the TOML: the parser's own message would quote it.
      `[admin]\ntoken = ${SECRET}\n`,
    ];
    for (const text of cases) {
      const problems = problemsOf(text, { ORDERS_WHSEC: SECRET });
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.join("\n")).not.toContain(SECRET);
      expect(problems.join("\n")).not.toContain("hunter2");
    }
    expect(problemsOf(BASE.replace(`"${WHSEC}"`, '"whsec_aGk="'))).toEqual([
      'targets[0].signing.secret: expected "whsec_" followed by base64 of at least 16 random bytes',
    ]);
    expect(problemsOf(`[admin]\ntoken = ${SECRET}\n`)[0]).toStartWith("config: invalid TOML near line 2: ");
  });

  test("checks the verify table by scheme", () => {
    const verify = (v: string) => problemsOf(BASE.replace('{ preset = "ploints", secret = "lit-secret" }', v));
    expect(verify('{ preset = "ploints", scheme = "hmac", secret = "x" }')).toEqual([
      "sources[0].verify: set either preset or scheme, not both",
    ]);
    expect(verify('{ secret = "x" }')).toEqual([
      'sources[0].verify: expected a preset (like preset = "stripe") or a scheme (hmac, shared-secret, basic, none)',
    ]);
    expect(verify('{ preset = "plonk", secret = "x" }')[0]).toStartWith('sources[0].verify.preset: expected a preset (standard-webhooks, ');
    expect(verify('{ scheme = "rsa", secret = "x" }')[0]).toStartWith("sources[0].verify.scheme: expected a scheme (hmac, shared-secret, basic, none), got \"rsa\"");
    expect(verify('{ preset = "ploints" }')).toEqual(['sources[0].verify.secret: required for preset "ploints"']);
    expect(verify('{ scheme = "hmac", secret = "x" }')).toEqual(["sources[0].verify.header: required for scheme hmac"]);
    expect(verify('{ scheme = "shared-secret", secret = "x" }')).toEqual(["sources[0].verify.header: required for scheme shared-secret"]);
    expect(verify('{ scheme = "basic", secret = "x" }')).toEqual(["sources[0].verify.username: required for scheme basic"]);
    expect(verify('{ scheme = "hmac", header = "X-S", secret = "x", signed = "{timestamp}.{bdy}" }')).toEqual([
      "sources[0].verify.signed: unknown placeholder {bdy}; expected {body}, {timestamp}, {id} or {url}",
      "sources[0].verify.timestamp_header: required when signed uses {timestamp}",
    ]);
    expect(verify('{ preset = "ploints", secret = "x", header = "X-S" }')).toEqual([
      'sources[0].verify.header: not used by preset "ploints"',
    ]);
    expect(verify('{ scheme = "none", secret = "x" }')).toEqual(["sources[0].verify.secret: not used by scheme none"]);
  });

  test("scheme none loads with a warning", () => {
    const result = configOf(BASE.replace('{ preset = "ploints", secret = "lit-secret" }', '{ scheme = "none" }'));
    expect(result.config.sources[0]!.verify).toEqual({ kind: "none" });
    expect(result.warnings).toContain("sources[0].verify: scheme none accepts unsigned requests");
  });

  test("URL-signed presets take their URL from verify.url or server.public_url, and warn without either", () => {
    const twilio = BASE.replace('preset = "ploints"', 'preset = "twilio"');
    // With public_url, ingest builds the URL from it and the request's own path and query (ingest.ts): no warning.
    const derived = configOf(`${twilio}\n[server]\npublic_url = "https://hooks.example.com"`);
    expect(derived.config.sources[0]!.verify).not.toHaveProperty("url");
    expect(derived.warnings.filter((w) => w.startsWith("sources[0].verify.url"))).toEqual([]);
    const explicit = configOf(twilio.replace('secret = "lit-secret"', 'secret = "x", url = "https://a.example/in/x"'));
    expect(explicit.config.sources[0]!.verify).toMatchObject({ url: "https://a.example/in/x" });
    const neither = configOf(twilio);
    expect(neither.config.sources[0]!.verify).not.toHaveProperty("url");
    expect(neither.warnings.some((w) => w.startsWith("sources[0].verify.url: preset \"twilio\" signs the public URL"))).toBe(true);
  });

  test("checks target kinds, retry, concurrency, jitter and rate", () => {
    expect(problemsOf(`${BASE}\n[[targets]]\nname = "alice"\nkind = "listen"`)).toEqual([
      'targets[1].token: required for kind = "listen" targets (the token `hookrelay listen` presents)',
    ]);
    expect(problemsOf(`${BASE}\n[[targets]]\nname = "p"`)).toEqual(["targets[1].url: required for push targets"]);
    const bad = problemsOf(
      BASE.replace(
        `signing = { secret = "${WHSEC}" }`,
        `retry = { schedule = [], jitter = 1.5 }\nconcurrency = 0\nrate = "lots"\nordered = "yes"`,
      ),
    );
    expect(bad).toEqual([
      'targets[0].retry.schedule: expected at least one delay (the first attempt\'s, "0s": it goes at once)',
      "targets[0].retry.jitter: expected a number between 0 and 1, got 1.5",
      "targets[0].concurrency: expected a whole number ≥ 1, got 0",
      'targets[0].rate: expected a rate like "50/s" or "10/m", got "lots"',
      'targets[0].ordered: expected true or false, got "yes"',
    ]);
  });

  test("store.search must be true or false", () => {
    expect(problemsOf(`${BASE}\n[store]\nsearch = "yes"\n`)).toEqual(['store.search: expected true or false, got "yes"']);
  });

  test("reports a non-table section and a non-array list", () => {
    expect(problemsOf(`server = 1\n${BASE}`)).toEqual(["server: expected a [server] table, got 1"]);
    expect(problemsOf(`routes = "x"\n${BASE.replace(/\[\[routes\]\][\s\S]*$/, "")}`)).toEqual([
      'routes: expected [[routes]] tables, got "x"',
    ]);
  });

  test("warns about sources without routes and targets nothing routes to", () => {
    const { warnings } = configOf(BASE.replace(/\[\[routes\]\][\s\S]*$/, ""));
    expect(warnings).toContain('source "ploints": no route; its events are stored but not forwarded');
    expect(warnings).toContain('target "orders": no route sends to it');
  });
});

describe("loadConfig finds every problem in one pass", () => {
  test("schema problems and cross-field problems are reported together", () => {
    const result = load(`
[server]
admin_listen = "0.0.0.0:8081"
max_body = 12

[[sources]]
name = "s"
verify = { preset = "stripe", scheme = "hmac", secret = "x" }
dedupe = { window = 7 }

[[sources]]
name = "h"
verify = { scheme = "hmac", secret = "x", tolerance = "soon" }

[[targets]]
name = "t"
url = "http://10.0.0.5/"
signing = { secret = "not-a-whsec" }
timeout = "ten"

[[targets]]
name = "l"
kind = "listen"
concurrency = 0
`);
    if (result.ok) throw new Error("expected problems");
    expect(result.problems).toEqual(
      expect.arrayContaining([
        // Schema problems…
        'server.max_body: expected a size like "1mb" (b, kb, mb or gb), got 12',
        'sources[0].dedupe.window: expected a duration like "10s" (ms, s, m, h or d), got 7',
        'sources[1].verify.tolerance: expected a duration like "10s" (ms, s, m, h or d), got "soon"',
        'targets[0].timeout: expected a duration like "10s" (ms, s, m, h or d), got "ten"',
        "targets[1].concurrency: expected a whole number ≥ 1, got 0",
        // …and the cross-field ones, though the same tables had schema problems.
        "admin.token: required when server.admin_listen (0.0.0.0:8081) is not a loopback address",
        "sources[0].verify: set either preset or scheme, not both",
        "sources[1].verify.header: required for scheme hmac",
        'targets[0].signing.secret: expected "whsec_" followed by base64 of at least 16 random bytes',
        'targets[1].token: required for kind = "listen" targets (the token `hookrelay listen` presents)',
      ]),
    );
    expect(result.problems).toHaveLength(10);
  });

  test("a key whose value failed is not also reported missing", () => {
    const problems = problemsOf(BASE.replace('{ preset = "ploints", secret = "lit-secret" }', '{ scheme = "hmac", header = "bad header", secret = "env:NOPE" }'));
    expect(problems).toEqual([
      'sources[0].verify.header: expected an HTTP header name, got "bad header"',
      "sources[0].verify.secret: env var NOPE is not set",
    ]);
    expect(problemsOf(BASE.replace('preset = "ploints"', 'preset = "plonts"'))).toHaveLength(1);
  });

  test("the problems come with the warnings found meanwhile", () => {
    const result = load(`${BASE}
[server]
max_body = 12
[[sources]]
name = "g"
verify = { preset = "github", secret = "x", tolerance = "1m" }`);
    if (result.ok) throw new Error("expected problems");
    expect(result.problems).toEqual(['server.max_body: expected a size like "1mb" (b, kb, mb or gb), got 12']);
    expect(result.warnings).toContain('sources[1].verify.tolerance: has no effect: preset "github" signs no timestamp');
  });
});

describe("loadConfig warns about keys that have no effect", () => {
  test("tolerance and url on presets that do not use them, and hmac keys its template does not use", () => {
    const { warnings } = configOf(`${BASE}
[[sources]]
name = "g"
verify = { preset = "github", secret = "x", tolerance = "1m", url = "https://a.example/in/g" }

[[sources]]
name = "st"
verify = { preset = "stripe", secret = "whsec_x", tolerance = "1m" }

[[sources]]
name = "h"
verify = { scheme = "hmac", header = "X-S", secret = "x", tolerance = "1m", url = "https://a.example/in/h", id_header = "X-Id" }

[[targets]]
name = "o"
url = "http://10.0.0.6/"
signing = { secret = "${WHSEC}" }
ordered = true
concurrency = 4

[[routes]]
from = "g"
to = ["o"]
[[routes]]
from = "st"
to = ["o"]
[[routes]]
from = "h"
to = ["o"]
`);
    expect(warnings).toEqual([
      'sources[1].verify.tolerance: has no effect: preset "github" signs no timestamp',
      'sources[1].verify.url: has no effect: preset "github" does not sign the URL',
      "sources[3].verify.tolerance: has no effect without timestamp_header",
      "sources[3].verify.url: has no effect: signed does not use {url}",
      "sources[3].verify.id_header: has no effect: signed does not use {id}",
      "targets[1].concurrency: has no effect with ordered = true (one delivery at a time)",
    ]);
  });

  test("tolerance on a timestamped preset and on hmac with a timestamp header is used, so no warning", () => {
    const { warnings } = configOf(
      BASE.replace('{ preset = "ploints", secret = "lit-secret" }', '{ preset = "stripe", secret = "whsec_x", tolerance = "1m" }') +
        '\n[[sources]]\nname = "h"\nverify = { scheme = "hmac", header = "X-S", secret = "x", timestamp_header = "X-T", tolerance = "1m" }\n[[routes]]\nfrom = "h"\nto = "orders"\n',
    );
    expect(warnings).toEqual([]);
  });
});

describe("loadConfig suggests what a misspelt name probably meant", () => {
  test("enum values: preset, scheme, algorithm, encoding, kind and log_level", () => {
    const verify = (v: string) => problemsOf(BASE.replace('{ preset = "ploints", secret = "lit-secret" }', v));
    expect(verify('{ preset = "stripee", secret = "x" }')[0]).toEndWith('got "stripee"; did you mean "stripe"?');
    expect(verify('{ preset = "GitHub", secret = "x" }')[0]).toEndWith('got "GitHub"; did you mean "github"?');
    expect(verify('{ scheme = "hamc", header = "X", secret = "x" }')[0]).toEndWith('got "hamc"; did you mean "hmac"?');
    expect(verify('{ scheme = "hmac", header = "X", secret = "x", algorithm = "sha265" }')).toEqual([
      'sources[0].verify.algorithm: expected "sha1", "sha256" or "sha512", got "sha265"; did you mean "sha256"?',
    ]);
    expect(verify('{ scheme = "hmac", header = "X", secret = "x", encoding = "base46" }')).toEqual([
      'sources[0].verify.encoding: expected "hex" or "base64", got "base46"; did you mean "base64"?',
    ]);
    expect(problemsOf(`${BASE}\n[[targets]]\nname = "a"\nkind = "listn"\ntoken = "tok-alice-0123456789"`)).toEqual([
      'targets[1].kind: expected "push" or "listen", got "listn"; did you mean "listen"?',
    ]);
    expect(problemsOf(`log_level = "warning"\n${BASE}`)).toEqual([
      'log_level: expected one of "debug", "info", "warn", "error", got "warning"; did you mean "warn"?',
    ]);
    // Nothing close: no guess.
    expect(verify('{ scheme = "rsa", secret = "x" }')[0]).toEndWith('got "rsa"');
  });

  test("unknown keys, at every level", () => {
    expect(problemsOf(`log_levl = "info"\n${BASE}`)).toEqual(['log_levl: unknown key; did you mean "log_level"?']);
    expect(problemsOf(`${BASE}\n[server]\nadmin_listn = "127.0.0.1:1"`)).toEqual(['server.admin_listn: unknown key; did you mean "admin_listen"?']);
    expect(problemsOf(BASE.replace('secret = "lit-secret"', 'secert = "lit-secret"'))).toEqual([
      'sources[0].verify.secert: unknown key; did you mean "secret"?',
      'sources[0].verify.secret: required for preset "ploints"',
    ]);
    expect(problemsOf(BASE.replace("signing = {", "signing = { secrte = 1,"))).toEqual(['targets[0].signing.secrte: unknown key; did you mean "secret"?']);
    expect(problemsOf(`${BASE}\n[server]\ncolour = "blue"`)).toEqual(["server.colour: unknown key"]);
  });
});

describe("loadConfig refuses short tokens off loopback", () => {
  const LISTEN = `${BASE}\n[[targets]]\nname = "alice"\nkind = "listen"\ntoken = "env:ALICE"\n`;

  test("an admin token shorter than 16 characters, unless admin_listen is loopback", () => {
    expect(problemsOf(`${BASE}\n[server]\nadmin_listen = "0.0.0.0:8081"\n[admin]\ntoken = "env:TOK"`, { TOK: "short-token" })).toEqual([
      "admin.token: expected at least 16 characters when server.admin_listen (0.0.0.0:8081) is not a loopback address",
    ]);
    configOf(`${BASE}\n[server]\nadmin_listen = "0.0.0.0:8081"\n[admin]\ntoken = "env:TOK"`, { TOK: "0123456789abcdef" });
    configOf(`${BASE}\n[server]\nadmin_listen = "127.0.0.1:8081"\n[admin]\ntoken = "env:TOK"`, { TOK: "short" });
  });

  test("a listen target's token shorter than 16 characters, unless server.listen is loopback", () => {
    expect(problemsOf(`${LISTEN}[server]\nlisten = "0.0.0.0:8080"`, { ALICE: "short-token" })).toEqual([
      "targets[1].token: expected at least 16 characters when server.listen (0.0.0.0:8080) is not a loopback address",
    ]);
    configOf(`${LISTEN}[server]\nlisten = "0.0.0.0:8080"`, { ALICE: "0123456789abcdef" });
    configOf(`${LISTEN}[server]\nlisten = "[::1]:8080"`, { ALICE: "short" });
  });

  test("the message never shows the token", () => {
    const problems = problemsOf(`${LISTEN}\n[admin]\ntoken = "tiny-admin"\n[server]\nadmin_listen = "0.0.0.0:1"`, { ALICE: "tiny-alice" });
    expect(problems).toHaveLength(2);
    expect(problems.join("\n")).not.toContain("tiny");
  });
});

describe("loadConfig reads route filters", () => {
  test("a route's filter.body, filter.headers and filter.query load as one filter, header names lower-cased", () => {
    const { config } = configOf(`${BASE}
[[routes]]
from = "ploints"
to = ["orders"]
event_types = ["order.*"]
filter.body = { data = { amount = { "$gte" = 10000 }, currency = { "$in" = ["EUR", "USD"] } } }
filter.headers = { "X-Shop-Domain" = "acme.myshopify.com" }
filter.query = { env = "live" }
`);
    expect(config.routes[0]!.filter).toBeUndefined();
    expect(config.routes[1]!.filter).toEqual({
      body: {
        op: "field",
        key: "data",
        filter: {
          op: "all",
          filters: [
            { op: "field", key: "amount", filter: { op: "$gte", value: 10000 } },
            { op: "field", key: "currency", filter: { op: "$in", values: ["EUR", "USD"] } },
          ],
        },
      },
      headers: { op: "field", key: "x-shop-domain", filter: { op: "$eq", value: "acme.myshopify.com" } },
      query: { op: "field", key: "env", filter: { op: "$eq", value: "live" } },
    });
  });

  test("an unknown operator and a wrong operand type are reported with their key paths, several at once", () => {
    const problems = problemsOf(`${BASE}
[[routes]]
from = "ploints"
to = ["orders"]
filter.body = { data = { amount = { "$gte" = "x" }, currency = { "$inn" = ["EUR"] } }, "$or" = [{ a = 1 }, { b = { "$exists" = "yes" } }] }
filter.headers = { "x-a" = { "$startsWith" = 5 } }
filter.qurey = { env = "live" }

[[routes]]
from = "ploints"
to = ["orders"]
filter.query = { env = ["live", "test"] }
`);
    expect(problems).toEqual([
      'routes[1].filter.body.data.amount.$gte: expected a number, got "x"',
      'routes[1].filter.body.data.currency.$inn: unknown operator; did you mean "$in"?',
      'routes[1].filter.body.$or[1].b.$exists: expected true or false, got "yes"',
      "routes[1].filter.headers.x-a.$startsWith: expected a string, got 5",
      "routes[1].filter.qurey: unknown key (expected body, headers or query)",
      'routes[2].filter.query.env: expected a value or a table of operators, got a list (use "$in" for one of several values)',
    ]);
  });

  test("the README's routing examples load as written", () => {
    const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Routing"), readme.indexOf("## The web UI"));
    const examples = [...section.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples).toHaveLength(3);
    const names = (kind: string, list: string[], extra: string) => list.map((n) => `[[${kind}]]\nname = "${n}"\n${extra}\n`).join("");
    const { config } = configOf(
      names("sources", ["stripe", "shopify", "github"], 'verify = { scheme = "none" }') +
        names("targets", ["finance", "acme-backend", "ci"], `url = "http://10.0.0.5/hooks"\nsigning = { secret = "${WHSEC}" }`) +
        examples.join("\n"),
    );
    expect(config.routes.map((r) => Object.keys(r.filter ?? {}).filter((k) => r.filter![k as "body"] !== null))).toEqual([["body"], ["headers"], ["body"]]);
  });
});

describe("readConfigFile", () => {
  test("a missing file is one clear problem", () => {
    const result = readConfigFile(join(dir, "nope.toml"), {});
    expect(result).toEqual({
      ok: false,
      problems: [`${join(dir, "nope.toml")}: no such file (use --config to point at one, or hookrelay init to write an example)`],
    });
  });

  test("a file that is not UTF-8 says so, and a TOML error names the byte it found as a reader knows it", () => {
    const utf16 = join(dir, "utf16.toml");
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[server]\nlisten = "127.0.0.1:1"\n', "utf16le")]));
    expect(readConfigFile(utf16, {})).toEqual({ ok: false, problems: [`${utf16}: not UTF-8 text, which TOML must be (it is UTF-16: save it as UTF-8)`] });
    const latin1 = join(dir, "latin1.toml");
    writeFileSync(latin1, Buffer.from('# caf\xe9\n', "latin1"));
    expect(readConfigFile(latin1, {})).toEqual({ ok: false, problems: [`${latin1}: not UTF-8 text, which TOML must be`] });
    expect(problemsOf("[server\nlisten = 1\n")).toEqual(["config: invalid TOML near line 1: Expected ']' to close a table header but found the end of the line"]);
    // A file with CRLF line ends is placed as well.
    expect(problemsOf("a = 1\r\nb = 2\r\nc = 3\r\nd = \r\n")[0]).toStartWith("config: invalid TOML near line 4: ");
  });

  test("hookrelay.example.toml loads with no env vars, no problems and no warnings", () => {
    const result = readConfigFile(join(import.meta.dir, "../../hookrelay.example.toml"), {});
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.warnings).toEqual([]);
    // The example spells out every default: keep it in step with defaults.ts.
    const { config } = result;
    expect(config.server.maxBodyBytes).toBe(1024 * 1024);
    expect(config.server.readTimeoutMs).toBe(ms(DEFAULTS.server.read_timeout));
    expect(config.server.maxInflightBytes).toBe(64 * 1024 * 1024);
    expect(config.store.url).toBe(DEFAULTS.store.url);
    expect(config.store.retentionMs).toBe(ms(DEFAULTS.store.retention));
    expect(config.store.busyTimeoutMs).toBe(ms(DEFAULTS.store.busy_timeout));
    expect(config.store.search).toBe(DEFAULTS.store.search);
    expect(config.logLevel).toBe(DEFAULTS.log_level);
    const target = config.targets[0]!;
    expect(target.retry.scheduleMs).toEqual(DEFAULTS.target.retry.schedule.map(ms));
    expect(target.retry.jitter).toBe(DEFAULTS.target.retry.jitter);
    expect(target.timeoutMs).toBe(ms(DEFAULTS.target.timeout));
    expect(target.connectTimeoutMs).toBe(ms(DEFAULTS.target.connect_timeout));
    expect(target.concurrency).toBe(DEFAULTS.target.concurrency);
    expect(target.disableAfterMs).toBe(ms(DEFAULTS.target.disable_after));
    expect(config.sources[0]!.dedupeWindowMs).toBe(ms(DEFAULTS.source.dedupe_window));
  });

  test("hookrelay.example.toml (npm start, demo secrets) listens on loopback only, public side included", () => {
    const result = readConfigFile(join(import.meta.dir, "../../hookrelay.example.toml"), {});
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.server.listen).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(result.config.server.adminListen).toEqual({ host: "127.0.0.1", port: 8081 });
  });
});

describe("loadConfig reads [store] archive", () => {
  test("an archive directory is taken as given, and absent means no archive", () => {
    expect(configOf(`[store]\narchive = "/var/lib/hookrelay/archive"`).config.store.archiveDir).toBe("/var/lib/hookrelay/archive");
    expect(configOf("").config.store.archiveDir).toBeUndefined();
  });

  test("an archive that is not a non-empty string is named by its key path", () => {
    expect(problemsOf(`[store]\narchive = 7`).join("\n")).toContain("store.archive");
    expect(problemsOf(`[store]\narchive = ""`).join("\n")).toContain("store.archive");
  });
});

describe("loadConfig reads a PostgreSQL [store]", () => {
  test("a postgres:// or postgresql:// url is taken as given, and its password secret ref is resolved", () => {
    const { config, warnings } = configOf(`[store]\nurl = "postgres://hookrelay@db.internal:5432/hookrelay?sslmode=verify-full"\npassword = "env:PGPASS_REF"`, { PGPASS_REF: "s3cret-pw" });
    expect(config.store.url).toBe("postgres://hookrelay@db.internal:5432/hookrelay?sslmode=verify-full");
    expect(config.store.password).toBe("s3cret-pw");
    expect(warnings).toEqual([]);
    expect(configOf(`[store]\nurl = "postgresql://hookrelay@db/hookrelay"`).config.store.url).toBe("postgresql://hookrelay@db/hookrelay");
    // Without a password key, the URL's or PGPASSWORD (the driver's) applies.
    expect(configOf(`[store]\nurl = "postgres://hookrelay@db/hookrelay"`).config.store.password).toBeUndefined();
  });

  test("a postgres url that cannot be used is a problem at store.url, naming what is wrong but never its password", () => {
    const notUrl = problemsOf(`[store]\nurl = "postgres://hookrelay:topsecret@db:notaport/x"`).join("\n");
    expect(notUrl).toContain("store.url: ");
    expect(notUrl).not.toContain("topsecret");
    expect(problemsOf(`[store]\nurl = "postgres://db/hookrelay?sslmode=sometimes"`)).toEqual([
      'store.url: sslmode: expected one of disable, allow, prefer, require, verify-ca, verify-full, got "sometimes"',
    ]);
    expect(problemsOf(`[store]\nurl = "postgres://db/hook/relay"`)).toEqual(['store.url: expected one database name after the host (postgres://user@host:5432/database), got "/hook/relay"']);
    expect(problemsOf(`[store]\nurl = "mysql://db/hookrelay"`).join("\n")).toContain("store.url: expected a file:, postgres:, libsql:");
  });

  test("a password that cannot be resolved is a problem naming the variable, not a value", () => {
    expect(problemsOf(`[store]\nurl = "postgres://h@db/h"\npassword = "env:NOPE_PG"`)).toEqual(["store.password: env var NOPE_PG is not set"]);
  });

  test("a password with a store that is not PostgreSQL is a problem", () => {
    expect(problemsOf(`[store]\nurl = "file:./x.db"\npassword = "pw"`)).toEqual(["store.password: only a postgres:// store.url takes a password"]);
    // In the same pass as another key's problem, not after it is fixed.
    expect(problemsOf(`[store]\nurl = "file:./x.db"\npassword = "pw"\nretention = "0s"`)).toEqual([
      'store.retention: expected a duration longer than 0 (like "30s")',
      "store.password: only a postgres:// store.url takes a password",
    ]);
  });

  test("a password also written in the url is a warning that does not show it", () => {
    const { warnings } = configOf(`[store]\nurl = "postgres://h:inline-pw@db/h"`);
    expect(warnings).toEqual(["store.url: carries a password; put it in store.password (env:NAME or file:/path) to keep it out of the config file"]);
    // The driver reads one from the query string too.
    expect(configOf(`[store]\nurl = "postgres://h@db/h?password=query-pw"`).warnings).toEqual(warnings);
  });

  test("busy_timeout applies to PostgreSQL too (a statement's lock wait) and is no warning", () => {
    const { config, warnings } = configOf(`[store]\nurl = "postgres://h@db/h"\nbusy_timeout = "2s"`);
    expect(config.store.busyTimeoutMs).toBe(2000);
    expect(warnings).toEqual([]);
  });
});
