/**
 * The inbound pipeline as a plain function (no HTTP framework in sight):
 * verify → handshake → dedupe key and event type → route (event type and
 * payload filters) → one durable write → outcome. An event no route takes is
 * stored all the same (unrouted). The controller turns outcomes into responses.
 */
import { randomBytes } from "node:crypto";
import { dedupeKeyOf, eventTypeOf, makeFieldReader } from "../core/extract.ts";
import { redactedValue, redactHeaders } from "../core/header-mask.ts";
import { makeId, nextEventId } from "../core/ids.ts";
import { requestView } from "../core/routing.ts";
import { signedUrl } from "../core/verify/signed-url.ts";
import type { InboundRequest } from "../core/types.ts";
import type { Logger } from "../log/logger.ts";
import { leasedDeliveriesOf, type LeaseClaim, type LeasedDelivery } from "../store/deliveries.ts";
import { classifyStoreError, type IngestItem, type StoreError, type Writer } from "../store/index.ts";
import { decodeBody } from "./decode-body.ts";
import type { RejectionLimiter } from "./rejection-limiter.ts";
import { FoldedLog } from "../log/folded-log.ts";
import { routedTargets, type CompiledSource } from "./sources.ts";

export interface RawRequest {
  method: string;
  /** URL as received by the process (origin may be internal). */
  url: URL;
  headers: Headers;
  body: Uint8Array;
  remoteAddr: string | null;
}

export type IngestResult =
  | { kind: "stored"; id: string; eventType: string | null; targets: string[] }
  | { kind: "duplicate"; id: string }
  | { kind: "handshake"; status: number; contentType: string; body: string }
  | { kind: "rejected"; reason: string; message: string }
  | { kind: "unavailable"; error: StoreError };

/**
 * Ingest's log lines that a flood would repeat (a wave of bad signatures, a
 * full disk refusing every request), at most one a second per source and
 * reason or error code (log/folded-log.ts).
 */
export function ingestLogs(log: Logger, nowMs: () => number) {
  const bySourceAnd = (what: string) => (e: { source: string } & Record<string, unknown>) => `${e.source}\0${String(e[what])}`;
  const rejected = new FoldedLog<{ source: string; reason: string; message: string; remote: string | null }>(
    log,
    { level: "info", msg: "rejected", key: bySourceAnd("reason") },
    { nowMs },
  );
  const storeFailed = new FoldedLog<{ source: string; code: string }>(log, { level: "error", msg: "store write failed", key: bySourceAnd("code") }, { nowMs });
  // Keyed by a configured source (an unknown one's name is the sender's to choose: it is a field, not a key).
  const refused = new FoldedLog<{ source: string | null; code: string; status: number; message: string; remote: string | null }>(
    log,
    { level: "info", msg: "request refused", key: (e) => `${e.source ?? ""}\0${e.code}` },
    { nowMs },
  );
  const notDecoded = new FoldedLog<{ source: string; encoding: string; reason: string }>(log, { level: "warn", msg: "body not decoded", key: (e) => e.source }, { nowMs });
  return {
    rejected,
    storeFailed,
    /** A verified body whose Content-Encoding could not be decoded (stored and forwarded as received). */
    notDecoded,
    /** Requests answered 4xx/503 before verification: unknown source, too large, too slow, server busy, a broken body. */
    refused,
    /** Writes the counts still pending (at stop). */
    flush() {
      rejected.flush();
      storeFailed.flush();
      refused.flush();
      notDecoded.flush();
    },
  };
}
export type IngestLogs = ReturnType<typeof ingestLogs>;

export interface IngestDeps {
  writer: Writer;
  limiter: RejectionLimiter;
  /** Ingest's log lines a flood would repeat (ingestLogs). */
  logs: IngestLogs;
  nowMs: () => number;
  /** Whether new deliveries for a target start paused (disabled target). */
  isPaused: (target: string) => boolean;
  /** The delivery engine's fast path: a free slot of `target` for a fresh event's delivery, written leased (null: pending). */
  claim?: (target: string) => LeaseClaim | null;
  /** A claim that was not used (duplicate, store error, no room across processes). */
  unclaim?: (target: string) => void;
  log: Logger;
  /** Cap on a Content-Encoded body once decoded (server.max_body): decoding stops there. */
  maxDecodedBytes: number;
  /**
   * Called after a new event is durably stored (metrics; wakes the scheduler)
   * with the deliveries written leased to this process, to send from memory now.
   */
  onStored?: (r: { source: string; id: string; targets: string[]; leased: LeasedDelivery[] }) => void;
  onRejected?: (source: string, reason: string) => void;
  /** A request refused before verification or not stored (its error code: body_too_large, server_busy, store_unavailable…). */
  onRefused?: (code: string) => void;
  onDuplicate?: (source: string) => void;
}

const REJECTION_EXCERPT_BYTES = 4096;

/** The URL the provider signed: the configured verify url (or public URL plus path), with the request's query (signedUrl). */
function providerUrl(source: CompiledSource, url: URL): string {
  const spec = source.config.verify;
  const base = "url" in spec && spec.url ? spec.url : source.publicUrl ? source.publicUrl.replace(/\/+$/, "") + url.pathname : undefined;
  return signedUrl(base, url.href);
}

/** Runs one request through the pipeline; never throws for expected outcomes. */
export async function ingest(deps: IngestDeps, source: CompiledSource, raw: RawRequest): Promise<IngestResult> {
  const now = deps.nowMs();
  const req: InboundRequest = { method: raw.method, url: providerUrl(source, raw.url), headers: raw.headers, body: raw.body };
  // Stored (event or rejection) without the source's credentials: the UI and API show what is stored.
  const headerPairs = redactHeaders([...raw.headers.entries()], source.redactedHeaders);
  const verdict = source.verify(req, now);
  if (!verdict.ok) return rejectRequest(deps, source, raw, verdict, headerPairs, now);
  const hs = source.handshake(req);
  if (hs) return { kind: "handshake", ...hs };

  const contentType = raw.headers.get("content-type");
  // Keys and types are read from the decoded body; what is stored and forwarded stays the bytes received.
  const encoding = raw.headers.get("content-encoding");
  const decoded = encoding === null ? { ok: true as const, body: raw.body } : await decodeBody(raw.body, encoding, deps.maxDecodedBytes);
  // The sender's Content-Encoding, cut short: it is theirs to make as long as a header may be.
  if (!decoded.ok) deps.logs.notDecoded.record({ source: source.config.name, encoding: encoding!.slice(0, 100), reason: decoded.reason });
  const ctx = { headers: raw.headers, query: raw.url.searchParams, body: decoded.ok ? decoded.body : raw.body, contentType };
  // An undecodable body has no fields: JSON-path keys fall back to the hash of the bytes received.
  const fields = decoded.ok ? makeFieldReader(ctx) : () => undefined;
  const eventType = eventTypeOf(source.config.eventType, ctx, fields);
  const dedupeKey = dedupeKeyOf(source.config.dedupeKeys, ctx, fields);
  // Routes read the same parse of the body as the event type did, and the headers as stored
  // (credentials redacted): replay and the routing explanation see exactly what ingest saw.
  const targets = routedTargets(source, requestView({ eventType, fields, headers: headerPairs, query: raw.url.searchParams }));
  // The time it is stored under, read again after the body's decoding (an await): ingest submits
  // an event at once under the time it reads here, so ids, times and the store's order agree.
  const receivedAt = deps.nowMs();
  const id = nextEventId(receivedAt);
  const item: IngestItem = {
    id,
    source: source.config.name,
    eventType,
    dedupeKey,
    dedupeWindowMs: source.config.dedupeWindowMs,
    receivedAt,
    method: raw.method,
    path: raw.url.pathname,
    query: raw.url.search.replace(/^\?/, ""),
    headers: headerPairs,
    body: raw.body,
    contentType,
    remoteAddr: raw.remoteAddr,
    // A disabled target's delivery waits paused; one with a free slot is written leased and sent from memory.
    deliveries: targets.map((target) => {
      const delivery = { id: makeId("dlv", receivedAt, randomBytes(10)), target };
      if (deps.isPaused(target)) return { ...delivery, status: "paused" as const };
      const claim = deps.claim?.(target);
      return claim ? { ...delivery, status: "pending" as const, claim } : { ...delivery, status: "pending" as const };
    }),
  };
  try {
    const outcome = await deps.writer.submit(item);
    unclaim(deps, item, outcome.kind === "stored" ? outcome.leased : []);
    if (outcome.kind === "duplicate") {
      deps.onDuplicate?.(source.config.name);
      deps.log.debug("duplicate", { source: source.config.name, id: outcome.id });
      return { kind: "duplicate", id: outcome.id };
    }
    deps.onStored?.({ source: source.config.name, id, targets, leased: leasedDeliveriesOf(item, outcome.leased) });
    deps.log.info("received", { source: source.config.name, id, eventType, targets });
    return { kind: "stored", id, eventType, targets };
  } catch (err) {
    unclaim(deps, item, []);
    const error = classifyStoreError(err);
    // An unreachable database is logged once by the store (lost / back), not at every request.
    if (error.code !== "unreachable") deps.logs.storeFailed.record({ source: source.config.name, code: error.code });
    return { kind: "unavailable", error };
  }
}

/**
 * A request refused before it became an event (failed verification, an
 * address not in allow_ips): stored as a rejection (rate-limited, credential
 * headers redacted), counted, and logged aggregated per source and reason.
 */
export function rejectRequest(
  deps: IngestDeps,
  source: CompiledSource,
  raw: RawRequest,
  why: { reason: string; message: string },
  headerPairs: [string, string][] = redactHeaders([...raw.headers.entries()], source.redactedHeaders),
  now: number = deps.nowMs(),
): IngestResult & { kind: "rejected" } {
  deps.writer.recordRejection({
    id: makeId("rej", now, randomBytes(10)),
    source: source.config.name,
    receivedAt: now,
    reason: why.reason,
    message: why.message,
    method: raw.method,
    path: raw.url.pathname + withoutVerifyToken(raw.url).search,
    headers: headerPairs,
    bodyExcerpt: raw.body.subarray(0, REJECTION_EXCERPT_BYTES),
    remoteAddr: raw.remoteAddr,
    keep: deps.limiter.shouldKeep(source.config.name, now),
  });
  deps.onRejected?.(source.config.name, why.reason);
  deps.logs.rejected.record({ source: source.config.name, reason: why.reason, message: why.message, remote: raw.remoteAddr });
  return { kind: "rejected", reason: why.reason, message: why.message };
}

/** The URL as a rejection stores it: a `hub.verify_token` is a source's secret, or a guess at it. */
export function withoutVerifyToken(url: URL): URL {
  if (!url.searchParams.has("hub.verify_token")) return url;
  const stored = new URL(url);
  stored.searchParams.set("hub.verify_token", redactedValue(url.searchParams.get("hub.verify_token")!));
  return stored;
}

/** Hands back the slots claimed for deliveries that were not written leased. */
function unclaim(deps: IngestDeps, item: IngestItem, leased: readonly string[]): void {
  for (const d of item.deliveries) if (d.claim && !leased.includes(d.id)) deps.unclaim?.(d.target);
}
