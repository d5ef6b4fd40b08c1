/**
 * Input of the admin API and UI, validated with valibot: the events-list
 * query (shared by GET /api/events and the UI's filter form), the
 * rejections query, ids and names in paths, the redeliver body and the
 * route-test body. Invalid input becomes one HttpError(400) with the first
 * problem's path (the route test: every problem, as `hookrelay check` does).
 */
import * as v from "valibot";
import { formatPath, type Path } from "../config/key-path.ts";
import type { RouteConfig } from "../config/types.ts";
import { describeValue, parseDurationMs } from "../config/units.ts";
import { parseRouteFilter } from "../core/route-filter.ts";
import { searchQueryOf } from "../core/search-text.ts";
import { EVENT_STATUSES, type EventFilter, type RejectionFilter } from "../store/admin-queries.ts";
import { HttpError } from "./http-error.ts";
import { parseUtcTime } from "../core/time-text.ts";

// Names as config allows them (lower-case letters, digits, _ and -): a source's, a target's.
const nameOf = (what: string) => v.pipe(v.string(), v.regex(/^[a-z0-9_][a-z0-9_-]{0,99}$/, `must be a ${what} name (lower-case letters, digits, _ and -)`));
const Name = nameOf("target");
const SourceName = nameOf("source");
/** An event id (evt_…). */
export const EventId = v.pipe(v.string(), v.regex(/^evt_[0-9A-Z]{26}$/, "must be an event id (evt_…)"));
const RejectionId = v.pipe(v.string(), v.regex(/^rej_[0-9A-Z]{26}$/, "must be a rejection id (rej_…)"));
/** ms since epoch, an ISO 8601 time, or a duration back from now ("2h"). */
const TIME_EXPECTED = 'must be ms since epoch, an ISO 8601 date or time (UTC unless it names its zone) or a duration back from now like "2h"';
const TimeParam = v.pipe(v.string(), v.maxLength(40, TIME_EXPECTED));
const Limit = v.pipe(
  v.string(),
  v.regex(/^\d+$/, "must be a whole number from 1 to 500"),
  v.transform(Number),
  v.minValue(1, "must be a whole number from 1 to 500"),
  v.maxValue(500, "must be a whole number from 1 to 500"),
);

// Unknown keys are refused, as a bulk filter's are (below): a misspelt one (?stauts=failed) would
// otherwise list every event as if it were the answer. The UI's pages pick their keys first.
const EventsQuery = v.strictObject({
  source: v.optional(SourceName),
  target: v.optional(Name),
  status: v.optional(v.picklist(EVENT_STATUSES, `must be one of ${EVENT_STATUSES.join(", ")}`)),
  type: v.optional(v.pipe(v.string(), v.maxLength(200, "must be an event type of at most 200 characters"))),
  q: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(500))),
  text: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(500))),
  since: v.optional(TimeParam),
  until: v.optional(TimeParam),
  cursor: v.optional(EventId),
  limit: v.optional(Limit),
});

// Strict as the events list's: a misspelt key (?reasn=…) would otherwise list every rejection.
const RejectionsQuery = v.strictObject({
  source: v.optional(SourceName),
  /** A rejection's reason code (bad_signature, stale_timestamp, …). */
  reason: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]{1,64}$/, "expected a reason code like bad_signature"))),
  /** Text the request's headers, body excerpt or request line holds (a privacy request's address). */
  text: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(256))),
  since: v.optional(TimeParam),
  until: v.optional(TimeParam),
  cursor: v.optional(RejectionId),
  limit: v.optional(Limit),
});

// Strict: a misspelt key ({"tagret": …}) would otherwise redeliver to every target.
const RedeliverBody = v.strictObject({ target: v.optional(Name) });

// The events list's filters as a JSON object; times may also be ms numbers. Unknown keys are
// refused: a misspelt filter key would otherwise widen a bulk action to every event.
const TimeValue = v.union([TimeParam, v.pipe(v.number(), v.integer(), v.minValue(0), v.transform(String))]);
const BulkFilter = v.strictObject({
  source: v.optional(v.string()),
  q: v.optional(v.string()),
  target: v.optional(v.string()),
  status: v.optional(v.string()),
  type: v.optional(v.string()),
  text: v.optional(v.string()),
  since: v.optional(TimeValue),
  until: v.optional(TimeValue),
});
const BulkBody = v.strictObject({ filter: v.optional(BulkFilter), target: v.optional(Name), dryRun: v.optional(v.boolean()) });

/** Parses `input` or throws HttpError(400) naming the first problem. */
export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const issue = r.issues[0]!;
  const path = v.getDotPath(issue);
  const message = issueText(issue);
  throw new HttpError(400, "invalid_request", path ? `${path}: ${message}` : message);
}

/** An issue in the words the config's problems use, where valibot's own would read as its internals. */
function issueText(issue: v.BaseIssue<unknown>): string {
  if (issue.type === "strict_object" && issue.expected === "never") return "unknown key";
  if (issue.type === "picklist") return `expected one of ${issue.expected?.replace(/^\(|\)$/g, "").split(" | ").join(", ")}, got ${issue.received}`;
  if (issue.message.startsWith("Invalid type: ")) return `expected ${issue.expected}, got ${issue.received}`;
  return issue.message;
}

// Empty form fields mean "no filter", not "match the empty string"; so does one of only spaces.
function withoutEmpty(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, val]) => val !== undefined && !(typeof val === "string" && val.trim() === "")));
}

/** Milliseconds for a time parameter, or throws HttpError(400). */
export function parseTimeMs(name: string, value: string, nowMs: number): number {
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const ago = parseDurationMs(value);
  // A duration back past 1970 names no time an event can have: said, as a negative time is.
  if (ago.ok && ago.value > nowMs) throw new HttpError(400, "invalid_request", `${name}: ${value} back from now is before 1970`);
  if (ago.ok) return nowMs - ago.value;
  // An offset's "+" not percent-encoded in a URL arrives as a space: "…T00:00:00 01:00".
  const t = parseUtcTime(value.replace(/(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$/, "$1+$2"));
  if (t !== null) return t;
  throw new HttpError(400, "invalid_request", `${name}: ${TIME_EXPECTED}`);
}

/** A list's since and until in ms (either may be absent), or HttpError(400). */
function timeRange(q: { since?: string; until?: string }, nowMs: number, what: string): { sinceMs?: number; untilMs?: number } {
  const sinceMs = q.since === undefined ? undefined : parseTimeMs("since", q.since, nowMs);
  const untilMs = q.until === undefined ? undefined : parseTimeMs("until", q.until, nowMs);
  // Said, not answered with an empty list that reads as "nothing happened then".
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs)
    throw new HttpError(400, "invalid_request", `since: ${q.since} is not before until ${q.until}: no ${what} could match (a duration counts back from now: since takes the longer one, as in since=2h&until=1h)`);
  return { sinceMs, untilMs };
}

/** The events-list filter from a query object (API or UI form). */
export function parseEventFilter(query: Record<string, unknown>, nowMs: number, defaultLimit = 50): EventFilter {
  const q = parseInput(EventsQuery, withoutEmpty(query));
  const { sinceMs, untilMs } = timeRange(q, nowMs, "event");
  return {
    source: q.source,
    target: q.target,
    status: q.status,
    type: q.type,
    q: q.q,
    text: q.text === undefined ? undefined : wordsOf(q.text),
    sinceMs,
    untilMs,
    cursor: q.cursor,
    limit: q.limit ?? defaultLimit,
  };
}

function wordsOf(text: string): string {
  const words = searchQueryOf(text);
  if (words === null) throw new HttpError(400, "invalid_request", "text: no words to search for (letters or digits)");
  return words;
}

/** `f`, or HttpError(400) when it searches words and the relay keeps no index ([store] search = false). */
export function checkSearchable(f: EventFilter, searchOn: boolean): EventFilter {
  // Refused rather than ignored: an unfiltered or empty list would read as an answer.
  if (f.text !== undefined && !searchOn) throw new HttpError(400, "search_off", "text: full-text search is off ([store] search = false)");
  return f;
}

/**
 * The events page's filter. Its one search box (q) finds an event by its id;
 * with search on, by the box's words or an exact dedupe key; with search off
 * (or no word in it), by a dedupe-key prefix as the API's q does.
 */
export function eventsPageFilter(query: Record<string, unknown>, nowMs: number, searchOn: boolean, defaultLimit = 50): EventFilter {
  const f = checkSearchable(parseEventFilter(ownKeys(query, EventsQuery), nowMs, defaultLimit), searchOn);
  if (f.q === undefined || !searchOn || v.is(EventId, f.q)) return f;
  const words = searchQueryOf(f.q);
  return words === null ? f : { ...f, q: undefined, text: f.text === undefined ? words : `${f.text} ${words}`, orKey: f.q };
}

/** The events filter of GET /api/stream?view=events: the page's reading of it, its unknown keys refused as the API's list refuses them. */
export function eventsStreamFilter(query: Record<string, unknown>, nowMs: number, searchOn: boolean, defaultLimit: number): EventFilter {
  for (const key of Object.keys(query)) if (!(key in EventsQuery.entries)) throw new HttpError(400, "invalid_request", `${key}: unknown key`);
  return eventsPageFilter(query, nowMs, searchOn, defaultLimit);
}

/** The rejections page's filter: its own keys of the page's address (a link's others left alone). */
export function rejectionsPageFilter(query: Record<string, unknown>, nowMs: number, defaultLimit = 50) {
  return parseRejectionFilter(ownKeys(query, RejectionsQuery), nowMs, defaultLimit);
}

/**
 * The keys of `query` that `schema` names. A page's address may carry more than its filter
 * (a link's tracking parameter): a page reads its own keys, where the API refuses the others.
 */
function ownKeys(query: Record<string, unknown>, schema: { entries: Record<string, unknown> }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([k]) => k in schema.entries));
}

/** The rejections-list filter from a query object (an unknown key is a 400). */
export function parseRejectionFilter(query: Record<string, unknown>, nowMs: number, defaultLimit = 50): RejectionFilter {
  const q = parseInput(RejectionsQuery, withoutEmpty(query));
  return { source: q.source, reason: q.reason, text: q.text, ...timeRange(q, nowMs, "rejection"), cursor: q.cursor, limit: q.limit ?? defaultLimit };
}

/** A parser of ids in paths: the id, or HttpError(404) — a malformed id names nothing. */
function pathId(schema: v.GenericSchema<string>, what: string): (id: string) => string {
  return (id) => {
    if (!v.is(schema, id)) throw new HttpError(404, "not_found", `no such ${what}`);
    return id;
  };
}

/** An event id from a path, or HttpError(404). */
export const parseEventId = pathId(EventId, "event");
/** A rejection id from a path, or HttpError(404). */
export const parseRejectionId = pathId(RejectionId, "rejection");
/** A job id from a path, or HttpError(404). */
export const parseJobId = pathId(v.pipe(v.string(), v.regex(/^job_[0-9A-Z]{26}$/)), "job");
/** A delivery id from a path, or HttpError(404). */
export const parseDeliveryId = pathId(v.pipe(v.string(), v.regex(/^dlv_[0-9A-Z]{26}$/)), "delivery");

/** The optional `{"target"}` of a redeliver request (empty body allowed). */
export function parseRedeliverBody(text: string): { target?: string } {
  if (text.trim() === "") return {};
  return parseInput(RedeliverBody, jsonObjectOf(text));
}

/** The body of POST /api/events/redeliver and /api/deliveries/cancel: the events list's filter, a target, dryRun. */
export function parseBulkBody(
  text: string,
  nowMs: number,
  searchOn: boolean,
): { filter: Omit<EventFilter, "cursor" | "limit">; target?: string; dryRun: boolean } {
  // No filter is no request: every event is `"filter": {}`, said, never a body left out by mistake
  // (POST /api/events/<id>/redeliver, a body optional, is one path segment away).
  const json = text.trim() === "" ? {} : jsonObjectOf(text);
  // A list is no filter ({} is every event): said, rather than read as {} by the schema.
  if (Array.isArray(json.filter)) throw new HttpError(400, "invalid_request", 'filter: expected an object of the list\'s filters ({} for every stored event), got a list');
  const body = parseInput(BulkBody, json);
  if (body.filter === undefined) throw new HttpError(400, "filter_required", 'a bulk action needs a "filter": {"filter": {}} acts on every stored event');
  // The list's own parser, so that a filter means here what it means for GET /api/events ("text": its words).
  let filter: EventFilter;
  try {
    filter = checkSearchable(parseEventFilter(body.filter, nowMs), searchOn);
  } catch (err) {
    if (err instanceof HttpError) throw new HttpError(400, err.code, `filter.${err.message}`);
    throw err;
  }
  const { cursor: _cursor, limit: _limit, ...f } = filter;
  return { filter: f, target: body.target, dryRun: body.dryRun ?? false };
}

/** The JSON object of a request body, or HttpError(400) (a list or a value is no body these routes take). */
function jsonObjectOf(text: string): Record<string, unknown> {
  const json = jsonOf(text);
  if (!isObject(json)) throw new HttpError(400, "invalid_request", `body must be a JSON object, got ${describeValue(json)}`);
  return json;
}

/** The JSON of a request body, or HttpError(400). */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_request", "body must be JSON");
  }
}

/** The body of POST /api/routes/test: an event and a route checked as config checks a `[[routes]]` table. */
export function parseRouteTestBody(text: string, known: { sources: ReadonlySet<string>; targets: ReadonlySet<string> }): { eventId: string; route: RouteConfig } {
  const json = jsonOf(text);
  const problems: string[] = [];
  const problem = (path: Path, message: string) => problems.push(path.length === 0 ? message : `${formatPath(path)}: ${message}`);
  const body = isObject(json) ? json : {};
  if (!isObject(json)) problem([], 'expected {"eventId": "evt_…", "route": {…}}');
  // Strict, as the route in it is: a misspelt key would otherwise be a part of the test left out.
  for (const key of Object.keys(body)) if (key !== "eventId" && key !== "route") problem([key], "unknown key");
  if (body.eventId === undefined) problem(["eventId"], "required");
  else if (!v.is(EventId, body.eventId)) problem(["eventId"], "must be an event id (evt_…)");
  const route = routeOf(body.route, known, problem);
  if (problems.length > 0) throw new HttpError(400, "invalid_request", problems.join("; "));
  return { eventId: body.eventId as string, route: route! };
}

const ROUTE_KEYS = ["from", "to", "event_types", "filter"];

/** A `[[routes]]` table from JSON, or null after reporting its problems under `route`. */
function routeOf(input: unknown, known: { sources: ReadonlySet<string>; targets: ReadonlySet<string> }, problem: (path: Path, message: string) => void): RouteConfig | null {
  if (input === undefined) return problem(["route"], "required"), null;
  if (!isObject(input)) return problem(["route"], `expected a table with ${ROUTE_KEYS.join(", ")}, got ${describeValue(input)}`), null;
  let ok = true;
  const fail = (path: Path, message: string) => {
    problem(path, message);
    ok = false;
  };
  const from = input.from;
  if (typeof from !== "string") fail(["route", "from"], from === undefined ? "required" : `expected a string, got ${describeValue(from)}`);
  else if (!known.sources.has(from)) fail(["route", "from"], `no source named ${JSON.stringify(from)}`);
  const to = stringsOf(input.to);
  if (to === null) fail(["route", "to"], input.to === undefined ? "required" : `expected a target name or a non-empty list of them, got ${describeValue(input.to)}`);
  else
    to.forEach((name, k) => {
      if (!known.targets.has(name)) fail(Array.isArray(input.to) ? ["route", "to", k] : ["route", "to"], `no target named ${JSON.stringify(name)}`);
    });
  const eventTypes = input.event_types === undefined ? undefined : stringsOf(input.event_types);
  if (eventTypes === null) fail(["route", "event_types"], `expected an event type glob or a non-empty list of them, got ${describeValue(input.event_types)}`);
  const filter = input.filter === undefined ? undefined : parseRouteFilter(input.filter);
  if (filter && !filter.ok) for (const p of filter.problems) fail(["route", "filter", ...p.path], p.message);
  for (const key of Object.keys(input)) if (!ROUTE_KEYS.includes(key)) fail(["route", key], "unknown key");
  if (!ok) return null;
  return { from: from as string, to: [...new Set(to)], eventTypes: eventTypes ?? null, ...(filter?.ok && { filter: filter.filter }) };
}

/** A string or a non-empty list of strings, as a list; null otherwise. */
function stringsOf(input: unknown): string[] | null {
  const items = typeof input === "string" ? [input] : Array.isArray(input) ? input : null;
  return items !== null && items.length > 0 && items.every((s) => typeof s === "string") ? (items as string[]) : null;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
