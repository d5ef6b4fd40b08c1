/**
 * The admin side's JSON shapes (camelCase, ISO 8601 times), built from store
 * rows plus config. The API returns them as they are and the UI renders the
 * same objects, so the two never disagree. Credential-carrying headers and
 * query parameters are masked here, once, for both.
 */
import type { Config, TargetConfig } from "../config/types.ts";
import { mismatchWarning } from "../core/alert.ts";
import type { ListenStatus } from "../delivery/listen-hub.ts";
import { maskHeaders, maskPathQuery, maskQuery, redactedValue, shownTargetUrl } from "../core/header-mask.ts";
import { typedSearchOf } from "../core/search-text.ts";
import type { EventDetail, EventSummary, RejectionRow } from "../store/admin-queries.ts";
import type { SourceStats, TargetStats } from "../store/admin-stats.ts";
import type { Job } from "../store/jobs.ts";

/** ISO 8601 for a stored ms time (null stays null). */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as UTF-8 text, or null when it is not valid UTF-8. */
export function bodyText(body: Uint8Array | null): string | null {
  if (body === null) return null;
  try {
    return utf8.decode(body);
  } catch {
    return null;
  }
}

/** Longest value a list entry carries (characters); a longer one is cut and ends in "…". */
export const LIST_VALUE_MAX_CHARS = 256;

/** `value` cut to LIST_VALUE_MAX_CHARS with an ellipsis, never inside a surrogate pair. */
function clipValue(value: string): string {
  if (value.length <= LIST_VALUE_MAX_CHARS) return value;
  const end = LIST_VALUE_MAX_CHARS - 1;
  const code = value.charCodeAt(end - 1);
  return `${value.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end)}…`;
}

/**
 * A list entry with the long ones among `fields` cut (a dedupe key, event type
 * or error may be a megabyte, and a list repeats it on every row) and, when any
 * was, `truncated` naming them. The detail page and endpoint carry them whole.
 */
function clipFields<T extends Record<string, unknown>>(entry: T, fields: (keyof T & string)[]): T & { truncated?: string[] } {
  const cut = fields.filter((f) => typeof entry[f] === "string" && (entry[f] as string).length > LIST_VALUE_MAX_CHARS);
  if (cut.length === 0) return entry;
  const out: Record<string, unknown> = { ...entry, truncated: cut };
  for (const f of cut) out[f] = clipValue(entry[f] as string);
  return out as T & { truncated: string[] };
}

function eventFields(e: EventSummary) {
  return {
    id: e.id,
    source: e.source,
    eventType: e.eventType,
    dedupeKey: e.dedupeKey,
    receivedAt: iso(e.receivedAt)!,
    duplicates: e.duplicates,
    status: e.status,
    targets: e.targets,
    erasedAt: iso(e.erasedAt),
  };
}

/** One events-list entry (long dedupe key and event type cut). */
export function eventJson(e: EventSummary) {
  return clipFields(eventFields(e), ["dedupeKey", "eventType"]);
}
/** An events-list entry as the API returns it. */
export type EventJson = ReturnType<typeof eventJson>;

/** One event with its raw request (headers masked) and every delivery attempt, every value whole. */
export function eventDetailJson(e: EventDetail) {
  return {
    ...eventFields(e),
    lastDuplicateAt: iso(e.lastDuplicateAt),
    contentType: e.contentType,
    remoteAddr: e.remoteAddr,
    request: {
      method: e.method,
      path: e.path,
      query: maskQuery(e.query),
      headers: e.headers === null ? [] : maskHeaders(e.headers),
      body: bodyText(e.body),
      bodyBase64: e.body === null ? null : Buffer.from(e.body).toString("base64"),
      bodyBytes: e.body?.length ?? 0,
    },
    deliveries: e.deliveries.map((d) => ({
      id: d.id,
      target: d.target,
      status: d.status,
      attemptCount: d.attemptCount,
      nextAttemptAt: d.status === "pending" ? iso(d.nextAttemptAt) : null,
      lastError: d.lastError,
      origin: d.origin,
      createdAt: iso(d.createdAt)!,
      attempts: d.attempts.map((a) => ({
        at: iso(a.at)!,
        status: a.statusCode,
        durationMs: a.durationMs,
        error: a.error,
        responseExcerpt: a.responseExcerpt,
        request: a.request,
      })),
    })),
  };
}
/** One event as the API returns it. */
export type EventDetailJson = ReturnType<typeof eventDetailJson>;

/** One rejected request, every value whole (headers masked, body excerpt as text when UTF-8). */
export function rejectionDetailJson(r: RejectionRow) {
  return {
    id: r.id,
    source: r.source,
    receivedAt: iso(r.receivedAt)!,
    reason: r.reason,
    message: r.message,
    method: r.method,
    path: maskPathQuery(r.path),
    headers: maskHeaders(r.headers),
    bodyExcerpt: bodyText(r.bodyExcerpt),
    bodyExcerptBase64: r.bodyExcerpt === null ? null : Buffer.from(r.bodyExcerpt).toString("base64"),
    remoteAddr: r.remoteAddr,
    erasedAt: iso(r.erasedAt),
  };
}
/** A rejection as its own endpoint returns it. */
export type RejectionDetailJson = ReturnType<typeof rejectionDetailJson>;

/** One rejections-list entry (long header values cut). */
export function rejectionJson(r: RejectionRow) {
  const full = rejectionDetailJson(r);
  if (!full.headers.some(([, value]) => value.length > LIST_VALUE_MAX_CHARS)) return full as typeof full & { truncated?: string[] };
  const headers = full.headers.map(([name, value]): [string, string] => [name, clipValue(value)]);
  return { ...full, headers, truncated: ["headers"] };
}
/** A rejections-list entry as the API returns it. */
export type RejectionJson = ReturnType<typeof rejectionJson>;

/**
 * One target's state and figures; `listen` is a listen target's client in this process.
 * A listen target with deliveries waiting and no client is "no-client", never "healthy".
 */
export function targetJson(t: TargetConfig, s: TargetStats, nowMs: number, listen: ListenStatus | null = null) {
  const disabled = s.disabled ?? !t.enabled;
  const circuitOpen = s.circuitOpenUntil !== null && s.circuitOpenUntil > nowMs;
  // Its time up but no success since: the next attempt probes it. Still open, as /metrics and the alerts say.
  const halfOpen = s.circuitOpenUntil !== null && !circuitOpen;
  const la = s.lastAttempt;
  const lastAttemptFailed = la !== null && (la.statusCode === null || la.statusCode < 200 || la.statusCode > 299);
  const client = t.kind === "listen" ? (listen ?? { connected: false, sinceMs: null, remoteAddr: null }) : null;
  const waiting = client !== null && !client.connected && s.queue.pending + s.queue.delivering > 0;
  const entry = {
    name: t.name,
    kind: t.kind,
    url: t.kind === "push" ? shownTargetUrl(t) : null,
    state: disabled ? "disabled" : circuitOpen || halfOpen ? "circuit-open" : s.consecutiveFailures > 0 ? "failing" : waiting ? "no-client" : "healthy",
    listen: client === null ? null : { connected: client.connected, since: iso(client.sinceMs), remoteAddr: client.remoteAddr },
    enabled: !disabled,
    disabledReason: disabled ? s.disabledReason : null,
    queueDepth: s.queue.pending + s.queue.delivering + s.queue.paused,
    queue: s.queue,
    successRate: s.recentAttempts > 0 ? s.recentSuccesses / s.recentAttempts : null,
    successWindowMs: s.windowMs,
    recentAttempts: s.recentAttempts,
    consecutiveFailures: s.consecutiveFailures,
    failingSince: iso(s.failingSince),
    circuitOpenUntil: circuitOpen ? iso(s.circuitOpenUntil) : null,
    circuitHalfOpen: !disabled && halfOpen,
    lastAttemptAt: iso(la?.at ?? null),
    lastError: s.lastError ?? (lastAttemptFailed ? (la.error ?? `HTTP ${la.statusCode}`) : null),
    lastErrorAt: iso(s.lastError !== null ? s.lastErrorAt : lastAttemptFailed ? la.at : null),
    // Credentials: which are set, never a value (a header's value may come from a secret).
    headers: t.headers.map(([name, value]): [string, string] => [name, redactedValue(value)]),
    auth: t.auth?.kind ?? null,
    tls: t.tls === null ? null : { ca: t.tls.ca !== null, clientCertificate: t.tls.cert !== null },
  };
  return clipFields(entry, ["disabledReason", "lastError"]);
}
/** A target as the API returns it. */
export type TargetJson = ReturnType<typeof targetJson>;

/** Where providers reach this relay: server.public_url, else the public listener's address. */
export function publicBaseUrl(config: Config, request: Request, boundPort: number | null): string {
  if (config.server.publicUrl) return config.server.publicUrl.replace(/\/+$/, "");
  const { host, port } = config.server.listen;
  // A wildcard listener has no name of its own; the one the operator used to reach us is the best guess.
  const name = host === "0.0.0.0" || host === "::" ? new URL(request.url).hostname : host.includes(":") ? `[${host}]` : host;
  return `http://${name}:${boundPort ?? port}`;
}

/** One source's endpoint, counts and mismatch warning. */
export function sourceJson(config: Config, s: SourceStats, baseUrl: string) {
  const src = config.sources.find((x) => x.name === s.name)!;
  return {
    name: s.name,
    endpoint: `${baseUrl}/in/${s.name}`,
    verify: src.verify.kind === "preset" ? src.verify.preset : src.verify.kind,
    received: s.received,
    duplicates: s.duplicates,
    rejected: s.rejected,
    rejectedKept: s.rejectedKept,
    lastReceivedAt: iso(s.lastReceivedAt),
    lastRejectedAt: iso(s.lastRejectedAt),
    recent: { windowMs: s.windowMs, received: s.recentReceived, mismatches: s.recentMismatches },
    mismatchWarning: s.mismatchSpike ? mismatchWarning({ mismatches: s.recentMismatches, accepted: s.recentReceived, windowMs: s.windowMs }) : null,
  };
}
/** A source as the API returns it. */
export type SourceJson = ReturnType<typeof sourceJson>;

/** One bulk job: its progress (events worked through of those matched) and what it changed. */
export function jobJson(j: Job) {
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    total: j.total,
    done: j.done,
    /** Deliveries created (redeliver) or cancelled (cancel) so far. */
    affected: j.affected,
    target: j.params.target ?? null,
    /** The events filter it acts on, as POSTed ("until" bounded by when it was created). */
    filter: {
      source: j.params.filter.source ?? null,
      target: j.params.filter.target ?? null,
      status: j.params.filter.status ?? null,
      type: j.params.filter.type ?? null,
      /** The events page's search box (an id, a dedupe key, or with search on its words: then also in text). */
      q: j.params.filter.orKey ?? j.params.filter.q ?? null,
      text: j.params.filter.text === undefined ? null : typedSearchOf(j.params.filter.text),
      since: iso(j.params.filter.sinceMs ?? null),
      until: iso(j.params.filter.untilMs ?? null),
    },
    error: j.error,
    createdAt: iso(j.createdAt)!,
    finishedAt: iso(j.finishedAt),
  };
}
/** A job as the API returns it. */
export type JobJson = ReturnType<typeof jobJson>;
