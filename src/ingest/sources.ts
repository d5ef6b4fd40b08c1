/**
 * Compiles the configured sources once at start: verifier, handshake, the
 * headers stored redacted, and the routes (core/routing.ts). Dedupe and
 * event-type refs and forward headers come resolved from config (the
 * preset's defaults filled in there).
 */
import type { Config, SourceConfig } from "../config/types.ts";
import { redactionSet } from "../core/header-mask.ts";
import { compileRanges, type IpRanges } from "../core/ip-ranges.ts";
import { compileRoutes, routeTargets, type RequestView, type RouteTable } from "../core/routing.ts";
import type { InboundRequest, VerifyResult } from "../core/types.ts";
import { answerHandshake, buildVerifier, credentialHeaders } from "../core/verify/index.ts";

export interface CompiledSource {
  config: SourceConfig;
  verify: (req: InboundRequest, nowMs: number) => VerifyResult;
  handshake: (req: InboundRequest) => { status: number; contentType: string; body: string } | null;
  /** Lower-cased names of the headers stored redacted: they carry this source's secret. */
  redactedHeaders: ReadonlySet<string>;
  /** Every configured route (those from other sources never match). */
  routes: RouteTable;
  /** URL base the provider calls, for URL-signed schemes. */
  publicUrl: string | null;
  /** allow_ips compiled: the client addresses this source takes requests from; null = every one. */
  allowed: IpRanges | null;
}

/** One CompiledSource per configured source, keyed by name; `routes` compiled from config unless given. */
export function compileSources(config: Config, routes: RouteTable = compileRoutes(config.routes)): Map<string, CompiledSource> {
  const out = new Map<string, CompiledSource>();
  for (const s of config.sources) {
    out.set(s.name, {
      config: s,
      verify: buildVerifier(s.verify),
      handshake: (req) => answerHandshake(s.verify, req),
      redactedHeaders: redactionSet(credentialHeaders(s.verify)),
      routes,
      publicUrl: config.server.publicUrl,
      allowed: s.allowIps === null ? null : compileRanges(s.allowIps),
    });
  }
  return out;
}

/** The distinct targets an event from this source goes to. */
export function routedTargets(source: CompiledSource, view: RequestView): string[] {
  return routeTargets(source.routes, source.config.name, view);
}
