/**
 * Where the listen client posts each delivery: `--forward-to URL` is the
 * default, `--forward-to TYPE=URL` (repeatable, TYPE a glob over the event
 * type) routes matching event types elsewhere. The first matching TYPE wins,
 * then the default; with neither, the delivery is nacked (kept and retried
 * by the relay, never dropped silently).
 */
import { compileGlob, type Glob } from "../core/glob.ts";

/** One `TYPE=URL` entry. */
export interface ForwardRoute {
  glob: string;
  pattern: Glob;
  url: string;
}

/** Parsed `--forward-to` values. */
export interface ForwardRoutes {
  routes: ForwardRoute[];
  defaultUrl: string | null;
}

/**
 * Parses `--forward-to` values. A value starting with http:// or https:// is
 * the default URL (so a `=` in its query string is fine); anything else must
 * be `TYPE=URL`.
 *
 * @example parseForwardRoutes(["http://localhost:3000/hooks", "order.*=http://localhost:3000/orders"])
 */
export function parseForwardRoutes(values: string[]): { ok: true; value: ForwardRoutes } | { ok: false; error: string } {
  const out: ForwardRoutes = { routes: [], defaultUrl: null };
  for (const v of values) {
    const isUrl = /^https?:\/\//i.test(v);
    const eq = v.indexOf("=");
    const glob = isUrl ? null : v.slice(0, eq);
    const url = isUrl ? v : v.slice(eq + 1);
    if (!isUrl && (eq <= 0 || glob === "")) return { ok: false, error: `--forward-to ${JSON.stringify(v)}: expected URL or TYPE=URL` };
    if (!validHttpUrl(url)) return { ok: false, error: `--forward-to ${JSON.stringify(v)}: ${JSON.stringify(url)} is not an http(s) URL` };
    // Never sent (the client posts with the relay's headers only): refused rather than dropped in silence, and not echoed.
    if (hasCredentials(url)) return { ok: false, error: "--forward-to: a URL with credentials (user:password@) is not supported: the local app would never get them" };
    if (glob === null) {
      if (out.defaultUrl !== null) return { ok: false, error: "--forward-to: only one default URL (without TYPE=) is allowed" };
      out.defaultUrl = url;
    } else {
      out.routes.push({ glob, pattern: compileGlob(glob), url });
    }
  }
  if (out.defaultUrl === null && out.routes.length === 0) return { ok: false, error: "--forward-to is required" };
  return { ok: true, value: out };
}

/** The local URL for an event type, or null when nothing matches. */
export function pickForwardUrl(r: ForwardRoutes, eventType: string | null): string | null {
  if (eventType !== null) for (const route of r.routes) if (route.pattern.test(eventType)) return route.url;
  return r.defaultUrl;
}

function hasCredentials(s: string): boolean {
  const u = new URL(s);
  return u.username !== "" || u.password !== "";
}

function validHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
