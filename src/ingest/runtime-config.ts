/**
 * The config as the running relay reads it: the validated Config with what
 * is compiled from it once (sources with their verifiers and allowlists,
 * routes, trusted proxies), as ONE object. A reload builds a new one and
 * replaces the old in a single assignment (LiveConfig.replace), so nothing
 * ever sees half of each; a request takes `current()` once when it starts
 * and runs on that object to its end, whatever is reloaded meanwhile.
 * Everything in Config comes along (a new section needs no reload code),
 * and a consumer that reads `current()` when it acts is reloaded for free.
 */
import type { Config } from "../config/types.ts";
import { compileRanges, type IpRanges } from "../core/ip-ranges.ts";
import { compileRoutes, type RouteTable } from "../core/routing.ts";
import { compileSources, type CompiledSource } from "./sources.ts";

/** One config, compiled: what a request, a page or a delivery round reads. */
export interface RuntimeConfig {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly sources: ReadonlyMap<string, CompiledSource>;
  /** server.trusted_proxies compiled; null when none are set (forwarded headers are ignored). */
  readonly trustedProxies: IpRanges | null;
}

/** Compiles a validated config (route filters and ranges were checked at load: this does not fail). */
export function compileRuntimeConfig(config: Config): RuntimeConfig {
  const routes = compileRoutes(config.routes);
  return {
    config,
    routes,
    sources: compileSources(config, routes),
    trustedProxies: config.server.trustedProxies.length > 0 ? compileRanges(config.server.trustedProxies) : null,
  };
}

/** The runtime config in force; replaced whole by a reload. */
export class LiveConfig {
  #current: RuntimeConfig;

  constructor(initial: RuntimeConfig) {
    this.#current = initial;
  }

  /** The config in force now: read it once per request (or round) and keep it. */
  current(): RuntimeConfig {
    return this.#current;
  }

  /** Puts `next` in force for everything that starts from now on. */
  replace(next: RuntimeConfig): void {
    this.#current = next;
  }
}
