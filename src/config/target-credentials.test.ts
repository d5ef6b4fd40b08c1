import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_TLS_CERT, TEST_TLS_KEY } from "../../test/support/self-signed-cert.ts";
import { loadConfig, type LoadResult } from "./load.ts";

const dir = mkdtempSync(join(tmpdir(), "hookrelay-target-credentials-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "client.pem"), TEST_TLS_CERT);
writeFileSync(join(dir, "client.key"), TEST_TLS_KEY);
writeFileSync(join(dir, "not-a-cert.pem"), "hunter2-TOP-SECRET\n");

/** A config with one push target whose extra keys are `lines`. */
function withTarget(lines: string, url = "https://billing.internal/hooks"): string {
  return `
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "lit-secret" }

[[targets]]
name = "billing"
url = "${url}"
signing = { secret = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=" }
${lines}

[[routes]]
from = "ploints"
to = "billing"
`;
}

const load = (text: string, env: Record<string, string> = {}): LoadResult => loadConfig(text, { env, baseDir: dir });

function problemsOf(text: string, env: Record<string, string> = {}): string[] {
  const result = load(text, env);
  if (result.ok) throw new Error("expected problems, config loaded");
  return result.problems;
}

function targetOf(text: string, env: Record<string, string> = {}) {
  const result = load(text, env);
  if (!result.ok) throw new Error(`unexpected problems:\n${result.problems.join("\n")}`);
  expect(result.warnings).toEqual([]);
  return result.config.targets[0]!;
}

describe("target headers", () => {
  test("values take secret refs and names are lower-cased", () => {
    const target = targetOf(withTarget('headers = { "X-Api-Key" = "env:BILLING_KEY", "X-Env" = "prod" }'), { BILLING_KEY: "k-123" });
    expect(target.headers).toEqual([
      ["x-api-key", "k-123"],
      ["x-env", "prod"],
    ]);
    expect(targetOf(withTarget("")).headers).toEqual([]);
  });

  test("names hookrelay sets itself, and Authorization, are refused with their key path", () => {
    const problems = problemsOf(
      withTarget(
        'headers = { Authorization = "Bearer x", "webhook-id" = "a", "Hookrelay-Source" = "b", Host = "c", "Content-Length" = "1", "Content-Type" = "text/plain", "X-Ok" = "fine" }',
      ),
    );
    expect(problems).toEqual([
      "targets[0].headers.Authorization: may not be set in headers; use auth (bearer, basic or oauth2)",
      "targets[0].headers.webhook-id: may not be set in headers: hookrelay sets it on every delivery",
      "targets[0].headers.Hookrelay-Source: may not be set in headers: hookrelay sets it on every delivery",
      "targets[0].headers.Host: may not be set in headers: hookrelay sets it on every delivery",
      "targets[0].headers.Content-Length: may not be set in headers: hookrelay sets it on every delivery",
      "targets[0].headers.Content-Type: may not be set in headers: hookrelay sets it on every delivery",
    ]);
  });

  test("a bad name, a non-string value, an unset env var and a name given twice are each named", () => {
    const problems = problemsOf(withTarget('headers = { "Bad Name" = "x", "X-Num" = 5, "X-Key" = "env:NOPE", "X-Env" = "a", "x-env" = "b" }'));
    expect(problems).toEqual([
      'targets[0].headers."Bad Name": expected an HTTP header name',
      "targets[0].headers.X-Num: expected a string (literal, env:NAME or file:/path)",
      "targets[0].headers.X-Key: env var NOPE is not set",
      "targets[0].headers.x-env: set twice (also X-Env)",
    ]);
  });

  test("a value with a line break is refused without showing it: it would split the request's headers", () => {
    const problems = problemsOf(withTarget('headers = { "X-Api-Key" = "env:KEY" }'), { KEY: "hunter2\r\nX-Injected: 1" });
    expect(problems).toEqual(["targets[0].headers.X-Api-Key: expected a header value without line breaks or control characters"]);
  });
});

describe("target auth", () => {
  test("each kind loads with its secrets resolved", () => {
    const env = { TOKEN: "tok-1", PASSWORD: "pw-1", CLIENT_SECRET: "cs-1" };
    expect(targetOf(withTarget('auth = { bearer = "env:TOKEN" }'), env).auth).toEqual({ kind: "bearer", token: "tok-1" });
    expect(targetOf(withTarget('auth = { basic = { username = "relay", password = "env:PASSWORD" } }'), env).auth).toEqual({
      kind: "basic",
      username: "relay",
      password: "pw-1",
    });
    const oauth2 = 'auth = { oauth2 = { token_url = "https://auth.internal/oauth/token", client_id = "relay", client_secret = "env:CLIENT_SECRET", scope = "webhooks" } }';
    expect(targetOf(withTarget(oauth2), env).auth).toEqual({
      kind: "oauth2",
      tokenUrl: "https://auth.internal/oauth/token",
      clientId: "relay",
      clientSecret: "cs-1",
      scope: "webhooks",
    });
    const noScope = 'auth = { oauth2 = { token_url = "https://auth.internal/oauth/token", client_id = "relay", client_secret = "s" } }';
    expect(targetOf(withTarget(noScope)).auth).toMatchObject({ kind: "oauth2", scope: null });
    expect(targetOf(withTarget("")).auth).toBeNull();
  });

  test("each kind's required keys are named with their key path", () => {
    expect(problemsOf(withTarget('auth = { basic = { username = "relay" } }'))).toEqual(["targets[0].auth.basic.password: required"]);
    expect(problemsOf(withTarget('auth = { basic = { password = "p" } }'))).toEqual(["targets[0].auth.basic.username: required"]);
    expect(problemsOf(withTarget("auth = { oauth2 = { scope = \"s\" } }"))).toEqual([
      "targets[0].auth.oauth2.token_url: required",
      "targets[0].auth.oauth2.client_id: required",
      "targets[0].auth.oauth2.client_secret: required",
    ]);
    expect(problemsOf(withTarget('auth = { bearer = "env:MISSING_TOKEN" }'))).toEqual(["targets[0].auth.bearer: env var MISSING_TOKEN is not set"]);
  });

  test("credentials that cannot go into an Authorization header are refused", () => {
    expect(problemsOf(withTarget('auth = { basic = { username = "re:lay", password = "p" } }'))).toEqual([
      'targets[0].auth.basic.username: may not contain ":" (it separates username and password)',
    ]);
    expect(problemsOf(withTarget('auth = { bearer = "env:TOKEN" }'), { TOKEN: "tok\nX-Injected: 1" })).toEqual([
      "targets[0].auth.bearer: expected a token without spaces, line breaks or control characters",
    ]);
  });

  test("exactly one kind: none and two are both refused", () => {
    expect(problemsOf(withTarget("auth = {}"))).toEqual(["targets[0].auth: expected one of bearer, basic or oauth2"]);
    expect(problemsOf(withTarget('auth = { bearer = "t", basic = { username = "u", password = "p" } }'))).toEqual([
      "targets[0].auth: expected one of bearer, basic or oauth2, got bearer and basic",
    ]);
    expect(problemsOf(withTarget('auth = { beaer = "t" }'))).toEqual(['targets[0].auth.beaer: unknown key; did you mean "bearer"?']);
  });

  test("an oauth2 token URL at a cloud metadata address is refused like a target URL", () => {
    const oauth2 = (url: string) => `auth = { oauth2 = { token_url = "${url}", client_id = "relay", client_secret = "s" } }`;
    expect(problemsOf(withTarget(oauth2("http://169.254.169.254/latest/api/token")))).toEqual([
      "targets[0].auth.oauth2.token_url: host 169.254.169.254 is link-local or a cloud metadata address; refused",
    ]);
    expect(problemsOf(withTarget(oauth2("ftp://auth.internal/token")))).toEqual([
      "targets[0].auth.oauth2.token_url: expected an http:// or https:// URL, got a ftp: URL",
    ]);
  });
});

describe("target tls", () => {
  test("file: refs and PEM text both load", () => {
    const fromFiles = targetOf(withTarget('tls = { ca = "file:client.pem", cert = "file:client.pem", key = "file:client.key" }'));
    expect(fromFiles.tls).toEqual({ ca: TEST_TLS_CERT.trimEnd(), cert: TEST_TLS_CERT.trimEnd(), key: TEST_TLS_KEY.trimEnd() });
    const inline = targetOf(withTarget(`tls = { ca = """${TEST_TLS_CERT}""" }`));
    expect(inline.tls).toEqual({ ca: TEST_TLS_CERT, cert: null, key: null });
    expect(targetOf(withTarget("")).tls).toBeNull();
  });

  test("a missing file, text that is not PEM and a lone cert or key are named with their key path", () => {
    expect(problemsOf(withTarget('tls = { ca = "file:nope.pem" }'))).toEqual([`targets[0].tls.ca: file ${join(dir, "nope.pem")}: cannot read (ENOENT)`]);
    expect(problemsOf(withTarget('tls = { ca = "file:not-a-cert.pem", cert = "file:not-a-cert.pem", key = "file:not-a-cert.pem" }'))).toEqual([
      "targets[0].tls.ca: expected PEM certificates (-----BEGIN CERTIFICATE-----), as text or an env:/file: ref",
      "targets[0].tls.cert: expected PEM certificates (-----BEGIN CERTIFICATE-----), as text or an env:/file: ref",
      "targets[0].tls.key: expected an unencrypted PEM private key, as text or an env:/file: ref",
    ]);
    expect(problemsOf(withTarget('tls = { cert = "file:client.pem" }'))).toEqual(["targets[0].tls.key: required with tls.cert"]);
    expect(problemsOf(withTarget('tls = { key = "file:client.key" }'))).toEqual(["targets[0].tls.cert: required with tls.key"]);
    expect(problemsOf(withTarget('tls = { ca = "env:CA_PEM" }'))).toEqual(["targets[0].tls.ca: env var CA_PEM is not set"]);
  });

  test("a key that does not belong to the certificate is refused", () => {
    const { privateKey } = require("node:crypto").generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "other.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    expect(problemsOf(withTarget('tls = { cert = "file:client.pem", key = "file:other.key" }'))).toEqual([
      "targets[0].tls.key: does not match tls.cert",
    ]);
  });

  test("tls needs an https:// url", () => {
    expect(problemsOf(withTarget('tls = { ca = "file:client.pem" }', "http://billing.internal/hooks"))).toEqual([
      "targets[0].tls: only used with an https:// url",
    ]);
  });
});

describe("target credentials", () => {
  test("headers, auth and tls are refused on listen targets", () => {
    const problems = problemsOf(`
[[targets]]
name = "alice"
kind = "listen"
token = "a-long-enough-listen-token"
headers = { "X-Env" = "dev" }
auth = { bearer = "t" }
tls = { ca = "file:client.pem" }
`);
    expect(problems).toEqual([
      'targets[0].headers: only used by push targets',
      'targets[0].auth: only used by push targets',
      'targets[0].tls: only used by push targets',
    ]);
  });

  test("never puts a secret value in a problem message", () => {
    const SECRET = "hunter2-TOP-SECRET";
    const cases = [
      withTarget(`tls = { key = "${SECRET}", cert = "file:client.pem" }`),
      withTarget(`tls = { ca = "env:CA" }`),
      withTarget('tls = { key = "file:not-a-cert.pem", cert = "file:client.pem" }'),
      withTarget(`auth = { bearer = 12, basic = { username = "u", password = ["${SECRET}"] } }`),
      withTarget(`headers = { "X-Api-Key" = ["${SECRET}"] }`),
      withTarget(`auth = { oauth2 = { token_url = "http://u:${SECRET}@169.254.169.254/", client_id = "c", client_secret = "${SECRET}" } }`),
    ];
    for (const text of cases) {
      const problems = problemsOf(text, { CA: SECRET });
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.join("\n")).not.toContain("hunter2");
    }
  });
});
