/**
 * Which targets an event goes to: the routes from its source whose
 * event-type globs match (a route without globs takes every event) and whose
 * payload filter (core/route-filter.ts) the request matches. One function for
 * ingest (where an event is routed as it arrives) and for replay and
 * redeliver (an event stored before a route existed), over a RequestView
 * built once per event from the request or from the stored event.
 */
import { compileGlob, matchesAnyGlob, type Glob } from "./glob.ts";
import { headerValueText } from "./header-text.ts";
import { compileRouteFilter, type CompiledFilter, type FilterInput, type RouteFilter } from "./route-filter.ts";

/** A route as config states it. */
export interface RouteSpec {
  from: string;
  to: string[];
  /** Globs over the event type; null = every event. */
  eventTypes: string[] | null;
  /** Conditions on body, headers and query; absent = every event. */
  filter?: RouteFilter;
}

interface CompiledRoute {
  from: string;
  to: string[];
  eventTypes: string[] | null;
  globs: Glob[] | null;
  filter: CompiledFilter | null;
  /** "body", "headers" and "query" as far as the filter reads them (for reasons). */
  filtered: string[];
}

/** Routes with their globs and filters compiled once. */
export interface RouteTable {
  routes: CompiledRoute[];
}

/** What routing reads of one event: its type and, lazily, its body fields, headers and query. */
export interface RequestView extends FilterInput {
  eventType: string | null;
}

/** One route's verdict on one event, as the admin API shows it. */
export interface RouteVerdict {
  /** The route's place in config ([[routes]] order). */
  index: number;
  from: string;
  to: string[];
  matched: boolean;
  reason: string;
}

/** Compiles the configured routes (globs to RegExps, filters to closures) once, at config load or start. */
export function compileRoutes(routes: readonly RouteSpec[]): RouteTable {
  return {
    routes: routes.map((r) => ({
      from: r.from,
      to: r.to,
      eventTypes: r.eventTypes,
      globs: r.eventTypes ? r.eventTypes.map(compileGlob) : null,
      filter: r.filter ? compileRouteFilter(r.filter) : null,
      filtered: r.filter ? (["body", "headers", "query"] as const).filter((p) => r.filter![p] !== null) : [],
    })),
  };
}

/**
 * A RequestView whose parts are each built at most once, and only when a
 * filter reads them. `fields` is the body reader ingest already made for event
 * types and dedupe keys (core/extract.ts makeFieldReader): one parse per event.
 */
export function requestView(parts: {
  eventType: string | null;
  fields: () => unknown;
  headers: Iterable<[string, string]>;
  query: URLSearchParams;
}): RequestView {
  let headers: Record<string, string> | null = null;
  let query: Record<string, string> | null = null;
  let body: { value: unknown } | null = null;
  return {
    eventType: parts.eventType,
    body: () => (body ??= { value: parts.fields() }).value,
    headers: () => (headers ??= firstValues(parts.headers, true, headerValueText)),
    query: () => (query ??= firstValues(parts.query, false)),
  };
}

/** A name → value table; a repeated name keeps its first value (as `query:` refs read it). */
function firstValues(pairs: Iterable<[string, string]>, lowerCase: boolean, text = (v: string) => v): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of pairs) {
    const key = lowerCase ? name.toLowerCase() : name;
    if (!(key in out)) out[key] = text(value);
  }
  return out;
}

/**
 * The distinct targets an event from `source` goes to, in config order.
 *
 * @example routeTargets(compileRoutes([{ from: "shop", to: ["orders"], eventTypes: ["order.*"] }]), "shop", view) // ["orders"] when view.eventType is "order.paid"
 */
export function routeTargets(table: RouteTable, source: string, view: RequestView): string[] {
  const out = new Set<string>();
  for (const r of table.routes) {
    if (r.from !== source || !matchesAnyGlob(r.globs, view.eventType)) continue;
    if (r.filter !== null && !r.filter(view, null)) continue;
    for (const t of r.to) out.add(t);
  }
  return [...out];
}

/** Every route's verdict on an event from `source`, with why it matched or not. */
export function explainRoutes(table: RouteTable, source: string, view: RequestView): RouteVerdict[] {
  return table.routes.map((r, index) => ({ index, from: r.from, to: r.to, ...verdictOf(r, source, view) }));
}

function verdictOf(r: CompiledRoute, source: string, view: RequestView): { matched: boolean; reason: string } {
  if (r.from !== source) return { matched: false, reason: `from source ${JSON.stringify(r.from)}, not ${JSON.stringify(source)}` };
  const globs = r.eventTypes?.map((g) => JSON.stringify(g)).join(", ");
  if (!matchesAnyGlob(r.globs, view.eventType)) {
    const reason =
      view.eventType === null
        ? `the event has no type; the route takes only ${globs}`
        : `event type ${JSON.stringify(view.eventType)} matches none of ${globs}`;
    return { matched: false, reason };
  }
  if (r.filter !== null) {
    const why: string[] = [];
    if (!r.filter(view, why)) return { matched: false, reason: why[0] ?? "the filter does not match" };
  }
  const typeReason =
    r.globs === null || view.eventType === null
      ? "every event type"
      : `event type ${JSON.stringify(view.eventType)} matches ${JSON.stringify(r.eventTypes![r.globs.findIndex((g) => g.test(view.eventType!))])}`;
  return { matched: true, reason: r.filtered.length === 0 ? typeReason : `${typeReason}; ${partsMatch(r.filtered)}` };
}

/** "body matches", "headers match", "body and query match". */
function partsMatch(parts: string[]): string {
  if (parts.length === 1) return parts[0] === "headers" ? "headers match" : `${parts[0]} matches`;
  return `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)} match`;
}
