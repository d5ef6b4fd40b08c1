/**
 * Compiles the configured sources once at start: verifier, dedupe and
 * event-type refs (config, else the preset's defaults), routed targets.
 */
import type { Config, SourceConfig } from "../config/types.ts";
import { globToRegExp, matchesAnyGlob } from "../core/glob.ts";
import { redactionSet } from "../core/header-mask.ts";
import type { InboundRequest, ValueRef, VerifyResult, VerifySpec } from "../core/types.ts";
import { answerHandshake, buildVerifier, credentialHeaders, presetDefaults } from "../core/verify/index.ts";

export interface CompiledSource {
  config: SourceConfig;
  verify: (req: InboundRequest, nowMs: number) => VerifyResult;
  handshake: (req: InboundRequest) => { status: number; contentType: string; body: string } | null;
  dedupeRefs: ValueRef[];
  eventTypeRefs: ValueRef[];
  forwardHeaders: string[];
  /** Lower-cased names of the headers stored redacted: they carry this source's secret. */
  redactedHeaders: ReadonlySet<string>;
  /** Targets this source routes to, with their event-type filters. */
  routes: { targets: string[]; globs: RegExp[] | null }[];
  /** URL base the provider calls, for URL-signed schemes. */
  publicUrl: string | null;
}

function defaultsOf(spec: VerifySpec) {
  return spec.kind === "preset" ? presetDefaults(spec.preset) : { dedupe: [], eventType: [], forwardHeaders: [] };
}

/** One CompiledSource per configured source, keyed by name. */
export function compileSources(config: Config): Map<string, CompiledSource> {
  const out = new Map<string, CompiledSource>();
  for (const s of config.sources) {
    const d = defaultsOf(s.verify);
    out.set(s.name, {
      config: s,
      verify: buildVerifier(s.verify),
      handshake: (req) => answerHandshake(s.verify, req),
      dedupeRefs: s.dedupeKeys ?? d.dedupe,
      eventTypeRefs: s.eventType ?? d.eventType,
      forwardHeaders: s.forwardHeaders ?? d.forwardHeaders,
      redactedHeaders: redactionSet(credentialHeaders(s.verify)),
      routes: config.routes
        .filter((r) => r.from === s.name)
        .map((r) => ({ targets: r.to, globs: r.eventTypes ? r.eventTypes.map(globToRegExp) : null })),
      publicUrl: config.server.publicUrl,
    });
  }
  return out;
}

/** The distinct targets an event of `eventType` goes to. */
export function routedTargets(source: CompiledSource, eventType: string | null): string[] {
  const set = new Set<string>();
  for (const r of source.routes) if (matchesAnyGlob(r.globs, eventType)) for (const t of r.targets) set.add(t);
  return [...set];
}
