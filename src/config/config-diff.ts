/**
 * What a config reload changes, by name only (secrets are never compared out
 * loud: a rotated secret makes its source or target "changed"), and which of
 * the changes cannot apply to a running process: the listen addresses and
 * the parts of the store and listeners built once at start.
 */
import type { Config, RouteConfig } from "./types.ts";

/** Added, removed and changed names of one kind of item. */
export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Everything a reload changes, ready to log and to answer with. */
export interface ConfigChanges {
  sources: NamedChanges;
  targets: NamedChanges;
  /**
   * Routes as "from → to, to" (a route has no name of its own); a route
   * whose ends stayed and whose filter changed is "changed".
   */
  routes: NamedChanges;
  /** Other keys whose value changed and is applied (TOML key paths: `server.public_url`, `admin.token`). */
  settings: string[];
  /** Keys whose new value needs a restart; the running value is kept until then. */
  restartNeeded: string[];
}

/**
 * Keys bound at start: the listeners (their addresses, Bun's body cap, the
 * shared in-flight budget) and the store connection.
 */
const RESTART_BOUND = ["server.listen", "server.admin_listen", "server.max_body", "server.max_inflight", "store.url", "store.password", "store.busy_timeout", "store.search", "store.archive"];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `maxBodyBytes` → `max_body`, `retentionMs` → `retention`, `archiveDir` → `archive`: the key as written in TOML. */
const tomlKey = (key: string) =>
  key
    .replace(/(Ms|Bytes|Sec|Dir)$/, "")
    .replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function named<T extends { name: string }>(before: T[], after: T[]): NamedChanges {
  const old = new Map(before.map((x) => [x.name, x]));
  const next = new Map(after.map((x) => [x.name, x]));
  return {
    added: after.filter((x) => !old.has(x.name)).map((x) => x.name),
    removed: before.filter((x) => !next.has(x.name)).map((x) => x.name),
    changed: after.filter((x) => old.has(x.name) && !same(old.get(x.name), x)).map((x) => x.name),
  };
}

const routeLabel = (r: RouteConfig) => `${r.from} → ${r.to.join(", ")}`;

/**
 * Routes present on one side only (a list may hold equal routes: counted, not
 * deduplicated); one removed and one added with the same ends are a changed route.
 */
function routeChanges(before: RouteConfig[], after: RouteConfig[]): ConfigChanges["routes"] {
  const left = (from: RouteConfig[], other: RouteConfig[]) => {
    const pool = other.map((r) => JSON.stringify(r));
    return from.filter((r) => {
      const i = pool.indexOf(JSON.stringify(r));
      if (i < 0) return true;
      pool.splice(i, 1);
      return false;
    });
  };
  const added = left(after, before).map(routeLabel);
  const removed = left(before, after).map(routeLabel);
  const changed: string[] = [];
  for (const label of [...added]) {
    const i = removed.indexOf(label);
    if (i < 0) continue;
    removed.splice(i, 1);
    added.splice(added.indexOf(label), 1);
    changed.push(label);
  }
  return { added, removed, changed };
}

/** Every changed key outside sources, targets and routes, as TOML key paths (one level into each table). */
function changedSettings(before: Config, after: Config): string[] {
  const out: string[] = [];
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === "sources" || key === "targets" || key === "routes") continue;
    const [x, y] = [a[key], b[key]];
    const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    if (isTable(x) && isTable(y)) {
      for (const sub of new Set([...Object.keys(x), ...Object.keys(y)])) if (!same(x[sub], y[sub])) out.push(`${tomlKey(key)}.${tomlKey(sub)}`);
    } else if (!same(x, y)) out.push(tomlKey(key));
  }
  return out;
}

/**
 * What changes from `before` to `after`, names only.
 *
 * @example diffConfig(running, reloaded).sources.added // ["github"]
 */
export function diffConfig(before: Config, after: Config): ConfigChanges {
  const settings = changedSettings(before, after);
  return {
    sources: named(before.sources, after.sources),
    targets: named(before.targets, after.targets),
    routes: routeChanges(before.routes, after.routes),
    settings: settings.filter((k) => !RESTART_BOUND.includes(k)),
    restartNeeded: settings.filter((k) => RESTART_BOUND.includes(k)),
  };
}

/** `after` with the running values of the keys that need a restart: the config that applies until then. */
export function keepRunning(before: Config, after: Config): Config {
  return {
    ...after,
    server: {
      ...after.server,
      listen: before.server.listen,
      adminListen: before.server.adminListen,
      maxBodyBytes: before.server.maxBodyBytes,
      maxInflightBytes: before.server.maxInflightBytes,
    },
    // The search indexer and the archive's reader are started (or not) with the relay.
    store: { ...after.store, url: before.store.url, password: before.store.password, busyTimeoutMs: before.store.busyTimeoutMs, search: before.store.search, archiveDir: before.store.archiveDir },
  };
}

/** What a reload answers: applied, with its changes, or refused with every problem (nothing changed). */
export type ReloadOutcome = { ok: true; changes: ConfigChanges; warnings: string[] } | { ok: false; problems: string[] };
