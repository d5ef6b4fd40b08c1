/**
 * `hookrelay dev --forward-to URL [--preset P --secret S]`: a zero-config
 * local relay. It writes the config a user would have written as TOML text
 * and loads it through `loadConfig`, so it gets exactly the validation and
 * defaults of a config file; then it runs like `serve`.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig, type LoadResult } from "../config/index.ts";
import { isLoopback } from "../core/address-guard.ts";
import type { ValueRef } from "../core/types.ts";
import { createLogger } from "../log/logger.ts";
import { parseFlags } from "./args.ts";
import { serveConfig } from "./serve.ts";

export interface DevOptions {
  forwardTo: string;
  preset?: string;
  /** A literal secret, or an `env:`/`file:` reference like a config file takes. */
  secret?: string;
  port: number;
  adminPort: number;
  publicUrl?: string;
  /** The directory holding the store and the signing secret (./.hookrelay). */
  dir: string;
}

// A literal --secret travels by this variable, so it never appears in generated text.
const SECRET_VAR = "HOOKRELAY_DEV_SECRET";
const CHECK_SIGNING_VAR = "HOOKRELAY_DEV_SIGNING_CHECK";
// A laptop app is restarted often: retry sooner than the production default.
const DEV_RETRY = ["0s", "2s", "10s", "30s", "2m", "10m"];

const q = (s: string) => JSON.stringify(s); // JSON strings are valid TOML basic strings

/** The dev relay's config as TOML text, plus the env its secret refs read. */
export function devConfigToml(
  o: DevOptions,
  env: Record<string, string | undefined>,
  // Where the target's signing secret is read; the flags are checked with a stand-in before .hookrelay/ is made.
  signingSecret = `file:${join(o.dir, "signing-secret")}`,
): { toml: string; env: Record<string, string | undefined> } {
  let verify = `{ scheme = "none" }`;
  // Without a preset nothing says where the type is: most senders' JSON has it at $.type.
  let eventType = `event_type = "$.type"\n`;
  let withSecret = env;
  if (o.preset !== undefined && o.secret !== undefined) {
    const isRef = /^(env|file):/.test(o.secret);
    if (!isRef) withSecret = { ...env, [SECRET_VAR]: o.secret };
    verify = `{ preset = ${q(o.preset)}, secret = ${q(isRef ? o.secret : `env:${SECRET_VAR}`)} }`;
    eventType = "";
  }
  const toml = `log_level = "info"
[server]
listen = ${q(`127.0.0.1:${o.port}`)}
admin_listen = ${q(`127.0.0.1:${o.adminPort}`)}
${o.publicUrl ? `public_url = ${q(o.publicUrl)}` : ""}
[store]
url = ${q(`file:${join(o.dir, "hookrelay.db")}`)}
[[sources]]
name = "dev"
verify = ${verify}
${eventType}[[targets]]
name = "local"
url = ${q(o.forwardTo)}
signing = { secret = ${q(signingSecret)} }
retry = { schedule = ${JSON.stringify(DEV_RETRY)} }
[[routes]]
from = "dev"
to = ["local"]
`;
  return { toml, env: withSecret };
}

/** Creates `dir` (0700) with a fresh Standard Webhooks signing secret (0600) unless one is there already. */
export function prepareDevDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ignore = join(dir, ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
  const secretFile = join(dir, "signing-secret");
  // Kept across runs, so the local app's verification keeps working after a restart.
  if (!existsSync(secretFile)) writeFileSync(secretFile, `whsec_${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
}

/** Runs the dev relay until a signal; returns -1 (keep running) or an exit code. */
export async function runDev(args: string[]): Promise<number> {
  const parsed = parseFlags(args, {
    "forward-to": { type: "string" },
    preset: { type: "string" },
    secret: { type: "string" },
    port: { type: "string", default: "8080" },
    "admin-port": { type: "string", default: "8081" },
    "public-url": { type: "string" },
  });
  if (!parsed) return 2;
  const v = parsed.values as Record<string, string | undefined>;
  const problem = usageProblem(v);
  if (problem) {
    process.stderr.write(`hookrelay dev: ${problem}\n`);
    return 2;
  }
  const dir = resolve(".hookrelay");
  const opts: DevOptions = {
    forwardTo: v["forward-to"]!, preset: v.preset, secret: v.secret,
    port: Number(v.port), adminPort: Number(v["admin-port"]), publicUrl: v["public-url"], dir,
  };
  // The flags first, with a stand-in signing secret: a mistyped --forward-to or --preset leaves nothing behind.
  const standIn = devConfigToml(opts, { ...process.env, [CHECK_SIGNING_VAR]: `whsec_${randomBytes(32).toString("base64")}` }, `env:${CHECK_SIGNING_VAR}`);
  const checked = loadConfig(standIn.toml, { env: standIn.env, baseDir: process.cwd() });
  if (!checked.ok) {
    // Key paths refer to generated text: name the flags instead where they map. A bad flag, as any other.
    for (const p of checked.problems) process.stderr.write(`hookrelay dev: ${flagNames(p)}\n`);
    return 2;
  }
  try {
    prepareDevDir(dir);
  } catch (err) {
    process.stderr.write(`hookrelay dev: cannot prepare ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  const { toml, env } = devConfigToml(opts, process.env);
  const loaded: LoadResult = loadConfig(toml, { env, baseDir: process.cwd() });
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(`hookrelay dev: ${flagNames(p)}\n`);
    return 1;
  }
  const log = createLogger(loaded.config.logLevel);
  // Unsigned requests get the banner's own WARNING below; a key path of the generated config would mean nothing here.
  for (const w of loaded.warnings) if (opts.preset || !w.startsWith("sources[0].verify:")) log.warn("config warning", { warning: flagNames(w) });
  const banner = ({ publicUrl, adminUrl }: { publicUrl: string; adminUrl: string }) => {
    const base = (opts.publicUrl ?? publicUrl).replace(/\/+$/, "");
    process.stdout.write(
      [
        "hookrelay dev relay",
        `  Paste into the provider:  ${base}/in/dev`,
        // A provider on the internet cannot reach a loopback address: say what can.
        ...(opts.publicUrl === undefined && isLoopback(new URL(base).hostname.replace(/^\[|\]$/g, ""))
          ? [`                            (this machine only: for a provider, point a tunnel at port ${new URL(base).port || "80"} and pass its URL as --public-url)`]
          : []),
        // The port the tunnel must lead to (chosen by the system with --port 0).
        ...(opts.publicUrl !== undefined ? [`                            (your --public-url: its tunnel must lead to ${new URL(publicUrl).host} here)`] : []),
        `  Forwarding to:            ${opts.forwardTo}`,
        `  Web UI:                   ${adminUrl}/`,
        `  Store:                    ${join(dir, "hookrelay.db")}`,
        `  Deliveries are signed (Standard Webhooks); the secret is in ${join(dir, "signing-secret")}`,
        // Re-sending one payload is the dev loop's habit: say why the second one does not arrive.
        `  A request sent again (${sameRequest(loaded.config.sources[0]!.dedupeKeys)}) is a duplicate for 7 days: acked, not forwarded.`,
        "  To send one again, use Redeliver on its page in the web UI.",
        "",
      ].join("\n"),
    );
    if (!opts.preset)
      process.stderr.write(
        "WARNING: no --preset/--secret given: /in/dev accepts UNSIGNED requests from anyone who can reach it.\n" +
          "         Pass --preset <provider> --secret <secret> to verify signatures like production does.\n",
      );
  };
  return serveConfig(loaded.config, log, { banner, listenSettings: ["--port", "--admin-port"] });
}

/** What makes a request the same one again, in the banner's words: its dedupe key, or its body when it has none. */
function sameRequest(keys: readonly ValueRef[]): string {
  if (keys.length === 0) return "the same body";
  const where = (r: ValueRef): string =>
    r.kind === "json" ? `$.${r.path.join(".")}` : r.kind === "header" ? r.name : r.kind === "query" ? `?${r.name}` : r.refs.map(where).join(" or ");
  return `the same ${keys.map(where).join(" + ")}, the provider's event id`;
}

function usageProblem(v: Record<string, string | undefined>): string | null {
  if (!v["forward-to"]) return "--forward-to URL is required (where to POST each event, e.g. http://localhost:3000/hooks)";
  // Named with its value: on the command line it is the user's own, no secret from a config.
  if (!URL.canParse(v["forward-to"])) return `--forward-to: ${JSON.stringify(v["forward-to"])} is not a URL; expected one like http://localhost:3000/hooks`;
  if ((v.preset === undefined) !== (v.secret === undefined)) return "--preset and --secret go together";
  for (const flag of ["port", "admin-port"]) {
    const n = Number(v[flag]);
    if (!Number.isInteger(n) || n < 0 || n > 65535) return `--${flag} must be a port number (0-65535)`;
  }
  return null;
}

function flagNames(problem: string): string {
  return problem
    .replace(/^targets\[0\]\.url/, "--forward-to")
    .replace(/^sources\[0\]\.verify\.preset/, "--preset")
    .replace(/^sources\[0\]\.verify\.secret/, "--secret")
    .replace(/^server\.public_url/, "--public-url");
}
