/**
 * Which targets an event goes to: the routes from its source whose
 * event-type globs match (a route without globs takes every event). One
 * function for ingest (where an event is routed as it arrives) and for
 * replay and redeliver (an event stored before a route existed).
 */
import { globToRegExp, matchesAnyGlob } from "./glob.ts";

/** A route as config states it. */
export interface RouteSpec {
  from: string;
  to: string[];
  /** Globs over the event type; null = every event. */
  eventTypes: string[] | null;
}

/** Routes with their globs compiled once. */
export interface RouteTable {
  routes: { from: string; to: string[]; globs: RegExp[] | null }[];
}

/** Compiles the configured routes (globs to RegExps) once, at config load or start. */
export function compileRoutes(routes: readonly RouteSpec[]): RouteTable {
  return { routes: routes.map((r) => ({ from: r.from, to: r.to, globs: r.eventTypes ? r.eventTypes.map(globToRegExp) : null })) };
}

/**
 * The distinct targets an event of `eventType` from `source` goes to, in config order.
 *
 * @example routeTargets(compileRoutes([{ from: "shop", to: ["orders"], eventTypes: ["order.*"] }]), "shop", "order.paid") // ["orders"]
 */
export function routeTargets(table: RouteTable, source: string, eventType: string | null): string[] {
  const out = new Set<string>();
  for (const r of table.routes) if (r.from === source && matchesAnyGlob(r.globs, eventType)) for (const t of r.to) out.add(t);
  return [...out];
}
