/** Key paths into the TOML document, rendered the way SPEC.md writes them. */

/** A key path: `["sources", 1, "verify", "secret"]`. */
export type Path = (string | number)[];

/** Renders a key path the way SPEC.md writes it: `sources[1].verify.secret`. */
export function formatPath(path: Path): string {
  return path
    .map((key, i) => {
      if (typeof key === "number") return `[${key}]`;
      // Filter operators print bare: routes[0].filter.body.amount.$gte
      const safe = /^\$?[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
      return i === 0 ? safe : `.${safe}`;
    })
    .join("");
}

/** True for a TOML table (a plain object). */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
