/**
 * `[store] url`: which store the relay runs on. An embedded file (`file:`,
 * the default), a PostgreSQL database (`postgres://`, `postgresql://`), or a
 * libSQL server (`libsql:`, `http(s):`, `ws(s):`; accepted, untested on our
 * side). A PostgreSQL URL is checked here without connecting, so that
 * `hookrelay check` names a bad one; its value is never echoed, since it may
 * carry a password.
 */
import { describeValue } from "./units.ts";

/** A value-or-error result, as every leaf parser returns. */
type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The sslmode values Bun's SQL client accepts (it throws on any other). */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;

const EXPECTED = "expected a file:, postgres:, libsql:, http(s): or ws(s): URL";

/** True when `url` names a PostgreSQL database. */
export function isPostgresStoreUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** A store URL as written, or the reason it cannot be one. */
export function parseStoreUrl(input: unknown): Parsed<string> {
  if (typeof input !== "string") return { ok: false, error: `${EXPECTED}, got ${describeValue(input)}` };
  if (isPostgresStoreUrl(input)) return parsePostgresUrl(input);
  if (input.startsWith("file:")) return parseFileUrl(input);
  if (input.includes(":memory:")) return { ok: false, error: IN_MEMORY };
  if (/^(libsql|https?|wss?):/.test(input)) return { ok: true, value: input };
  // Only the scheme: the rest may hold a credential.
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(input)?.[0];
  return { ok: false, error: `${EXPECTED}, got ${scheme ? `a ${scheme} URL` : describeValue(input)}` };
}

const IN_MEMORY = "an in-memory database keeps nothing across a restart, and the relay acknowledges only what it has stored durably: give a file (file:./data/hookrelay.db)";

/** file:<path>: a path to a file, not a directory, not memory. */
function parseFileUrl(input: string): Parsed<string> {
  const path = input.slice("file:".length).split("?")[0]!;
  if (/:memory:/i.test(path) || /[?&]mode=memory\b/i.test(input)) return { ok: false, error: IN_MEMORY };
  // The drivers that open the file (migrations, the writer, the readers) do not all decode a URL's
  // escapes, and "#" ends a URL's path: such a path named two files, or none.
  if (/[%#]/.test(path)) return { ok: false, error: `expected the file's path as it is, without % escapes or # (got ${describeValue(path)}); rename a file whose name has them` };
  if (path === "") return { ok: false, error: "expected a file path after file: (like file:./data/hookrelay.db), got none" };
  // No shell reads the config: "~" would be a directory of that name in the working directory.
  if (path.startsWith("~")) return { ok: false, error: `expected a path without ~ (nothing expands it here: it would be a directory named "~"), got ${describeValue(path)}; write the full path, like file:/home/relay/hookrelay.db` };
  // file://x/… names a host x, not a directory: the path would silently lose it.
  if (/^\/\/(?!\/)/.test(path) && !path.startsWith("//localhost/")) return { ok: false, error: `expected file:/absolute/path or file:///absolute/path, got ${describeValue(input)}, whose first name is read as a host` };
  if (path.endsWith("/")) return { ok: false, error: `expected a file path, got a directory (${describeValue(path)}); name the file in it, like ${describeValue(`${path}hookrelay.db`)}` };
  return { ok: true, value: input };
}

/** postgres://user@host:port/database?sslmode=…; host, user and database may be left to PG* variables. */
function parsePostgresUrl(input: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, error: "expected a URL like postgres://user@host:5432/database, got something that is not a URL (a port that is not a number? characters to percent-encode?)" };
  }
  const path = decodeURIComponent(url.pathname);
  if (path.length > 1 && path.slice(1).includes("/")) {
    return { ok: false, error: `expected one database name after the host (postgres://user@host:5432/database), got ${describeValue(path)}` };
  }
  const mode = url.searchParams.get("sslmode");
  if (mode !== null && !(SSL_MODES as readonly string[]).includes(mode)) {
    return { ok: false, error: `sslmode: expected one of ${SSL_MODES.join(", ")}, got ${describeValue(mode)}` };
  }
  return { ok: true, value: input };
}

/** True when a PostgreSQL URL carries a password of its own: after the user, or as a `password` query parameter. */
export function urlHasPassword(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== "" || u.searchParams.has("password");
  } catch {
    return false;
  }
}
