/**
 * Secret fields take a literal, `env:NAME` or `file:/path` (SPEC.md "Config").
 * Error messages name the variable or the file, never the value: they end up
 * in `hookrelay check` output and logs.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

export type SecretResult = { ok: true; value: string } | { ok: false; error: string };

export interface SecretContext {
  env: Record<string, string | undefined>;
  /** Directory relative `file:` paths resolve against (the config file's dir). */
  baseDir: string;
}

// systemd LoadCredential= puts files in $CREDENTIALS_DIRECTORY; unit files
// spell it %d, shells spell it $CREDENTIALS_DIRECTORY or ${CREDENTIALS_DIRECTORY}.
const CREDENTIALS_PREFIX = /^(%d|\$CREDENTIALS_DIRECTORY|\$\{CREDENTIALS_DIRECTORY\})(?=\/|$)/;

/** Resolves a literal, `env:NAME` or `file:/path` secret to its value. */
export function resolveSecret(ref: string, ctx: SecretContext): SecretResult {
  if (ref.startsWith("env:")) return readEnvSecret(ref.slice(4).trim(), ctx.env);
  if (ref.startsWith("file:")) return readFileSecret(ref.slice(5).trim(), ctx);
  if (ref.length === 0) return { ok: false, error: "secret is empty" };
  return { ok: true, value: ref };
}

function readEnvSecret(name: string, env: SecretContext["env"]): SecretResult {
  if (name === "") return { ok: false, error: 'expected a variable name after "env:"' };
  const value = env[name];
  if (value === undefined) return { ok: false, error: `env var ${name} is not set` };
  if (value === "") return { ok: false, error: `env var ${name} is empty` };
  return { ok: true, value };
}

function readFileSecret(rawPath: string, ctx: SecretContext): SecretResult {
  if (rawPath === "") return { ok: false, error: 'expected a path after "file:"' };
  let path = rawPath;
  const credentials = CREDENTIALS_PREFIX.exec(rawPath);
  if (credentials) {
    const dir = ctx.env.CREDENTIALS_DIRECTORY;
    if (!dir) {
      return { ok: false, error: `file ${rawPath}: CREDENTIALS_DIRECTORY is not set (not running under systemd LoadCredential?)` };
    }
    path = dir + rawPath.slice(credentials[0].length);
  }
  if (!isAbsolute(path)) path = resolve(ctx.baseDir, path);
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    return { ok: false, error: `file ${path}: cannot read (${code})` };
  }
  // Only the trailing newline editors and `echo` add; other whitespace may be meant.
  const value = content.replace(/\r?\n$/, "");
  if (value === "") return { ok: false, error: `file ${path} is empty` };
  return { ok: true, value };
}

/**
 * Why a value that is read as a literal looks like a secret reference meant
 * otherwise (`ENV:NAME`, `Env: NAME`, `$NAME`, `${NAME}`), or null. Such a
 * value is used as written — the literal text becomes the secret, and the
 * real one fails — so `check` says so. The value itself is never quoted; a
 * variable's name is not a secret.
 *
 * @example referenceLookAlike("ENV:TOKEN") // 'starts with "ENV:": a secret reference is env:NAME or file:/path, in lower case, with no space before the colon'
 */
export function referenceLookAlike(value: string): string | null {
  const prefix = /^\s*(env|file)\s*:/i.exec(value);
  if (prefix && !/^(env|file):/.test(value)) return `starts with "${prefix[0].trim()}": a secret reference is env:NAME or file:/path, in lower case, with no space before the colon; this is used as the literal text`;
  const shell = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(value.trim());
  if (shell && !CREDENTIALS_PREFIX.test(value)) return `is a shell variable ($${shell[1]}): the config file is not expanded, so this is used as the literal text; write env:${shell[1]}`;
  return null;
}
