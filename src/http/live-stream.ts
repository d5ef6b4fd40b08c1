/**
 * Live updates for the admin UI: `GET /api/stream?view=events|event|targets`
 * answers with Server-Sent Events carrying what changed on an open events
 * list (new events its filters match, newest first, and new statuses of the
 * newest page), an event page (its deliveries and attempts) or the targets
 * page (each target's state and queue).
 *
 * The hub reads the store; ingest publishes nothing. While a stream is open,
 * one timer per process asks the store once a second whether anything was
 * committed (store/change-mark.ts: a counter read without touching a table)
 * and only then runs each view's query — the same store functions the pages
 * use, once per distinct view and tick, however many streams show it. So the
 * ack path does no work for it, events ingested by another relay on the same
 * store show up too, and an idle relay with open tabs reads nothing but the
 * counter. Every fifth tick runs the queries anyway, in case a commit did not
 * move the counter (a writer on this very connection). A slow tick (a deep
 * queue to count) spaces out the next, so the hub takes at most 5 % of the
 * main thread whatever the store's size. Streams are capped per
 * process (LIVE_MAX_STREAMS; past it 503) and each one re-checks its
 * credentials on every tick, so a signed-out session's stream ends.
 */
import * as v from "valibot";
import type { TargetConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { countEventsUpTo, eventVersion, getEvent, withoutPaging, type EventFilter } from "../store/admin-queries.ts";
import { listEventsMatching } from "../store/event-search.ts";
import { storeChangeMark } from "../store/change-mark.ts";
import { targetStats } from "../store/admin-stats.ts";
import type { Store } from "../store/index.ts";
import { EventId, eventsStreamFilter, parseInput } from "./admin-params.ts";
import { eventDetailJson, eventJson, targetJson, type EventJson } from "./admin-views.ts";
import type { ListenStatus } from "../delivery/listen-hub.ts";
import { targetsLineText } from "../ui/format.ts";
import { drawnState } from "../ui/targets-page.ts";
import { targetHolds } from "../ui/event-page.ts";
import { EVENTS_COUNT_CAP } from "../ui/events-page.ts";
import { readTargetStates } from "../store/target-state.ts";
import { HttpError } from "./http-error.ts";
import { API_HEADERS } from "./security-headers.ts";
import { isStoreUnreachable } from "../store/errors.ts";

/** Streams open at once per process, at most. */
export const LIVE_MAX_STREAMS = 32;
/** How often open streams are brought up to date (the UI's promise: within 2 s). */
export const LIVE_TICK_MS = 1000;
// A comment line now and then: proxies and browsers keep an idle stream open, and a gone client is noticed.
const HEARTBEAT_MS = 15_000;
// Ticks between two runs of the queries when the commit counter did not move.
const QUERY_ANYWAY_TICKS = 5;
// A client this far behind in reading is cut off (memory stays bounded; its browser reconnects and catches up).
const BEHIND_BYTES = 1024 * 1024;
// An events view reads its newest page each tick, and the pages below it down to the last event
// it sent, up to EVENTS_PAGES pages: past that (a burst of more than 200 in a second) the message
// says events were left out (`gap`), and the page asks for a reload.
const EVENTS_PAGE = 50;
const EVENTS_PAGES = 4;

/** What one stream shows. */
export type LiveView =
  | { kind: "events"; filter: EventFilter; afterId: string | null }
  | { kind: "event"; id: string }
  | { kind: "targets" };

const ViewQuery = v.object({
  view: v.picklist(["events", "event", "targets"], 'must be "events", "event" or "targets"'),
  id: v.optional(EventId),
  after: v.optional(EventId),
});

/**
 * The view a stream request asks for, or HttpError(400). An events view takes
 * the events page's filters as the page reads them (its search box: words or
 * an exact key with search on), so that the live rows are the rows the page lists.
 */
export function parseLiveView(query: Record<string, unknown>, nowMs: number, searchOn: boolean): LiveView {
  const { view, after, id, ...rest } = query;
  const p = parseInput(ViewQuery, { view, id, after: after === "" ? undefined : after });
  if (p.view === "event") {
    if (p.id === undefined) throw new HttpError(400, "invalid_request", "id: an event stream needs the event's id");
    return { kind: "event", id: p.id };
  }
  if (p.view === "targets") return { kind: "targets" };
  return { kind: "events", filter: { ...eventsStreamFilter(rest, nowMs, searchOn, EVENTS_PAGE), cursor: undefined }, afterId: p.after ?? null };
}

interface Stream {
  view: LiveView;
  allowed: () => boolean;
  controller: ReadableStreamDefaultController<Uint8Array>;
  started: boolean;
  lastWriteMs: number;
  /** events: the newest id sent; the statuses last sent for the newest page (overall and per target, as one key); the count last sent. */
  afterId: string | null;
  statuses: Map<string, string>;
  matched: number | null;
  /** event: the event's version last sent; targets: the last message sent (only changes are sent). */
  lastSent: string | null;
}

/** What the hub needs. */
export interface LiveHubOptions {
  reads: Store["reads"];
  /** The targets in force (a reload replaces them). */
  targets: () => TargetConfig[];
  /** A listen target's client in this process, as GET /api/targets shows it. */
  listenStatus?: (target: string) => ListenStatus;
  nowMs: () => number;
  log: Logger;
  tickMs?: number;
  maxStreams?: number;
  /** Bytes a client may fall behind in reading before its stream is ended (1 MiB). */
  behindBytes?: number;
}

const encoder = new TextEncoder();

/** The open streams of this process and the timer that brings them up to date. */
export class LiveHub {
  #streams = new Set<Stream>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #busy = false;
  #again = false;
  #version: unknown = null;
  #quietTicks = 0;
  #notBeforeMs = 0;
  constructor(private readonly o: LiveHubOptions) {}

  /**
   * Something the views show changed outside the store (a reload: targets
   * added, removed, their URLs): the next tick reads every view again, as
   * after a commit, instead of on its quiet-ticks round some seconds on.
   */
  configChanged(): void {
    this.#version = null;
    this.#quietTicks = 0;
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /** An event-stream response for `view`; `allowed` is asked on every tick. HttpError(503) past the cap. */
  open(view: LiveView, allowed: () => boolean): Response {
    if (this.#streams.size >= (this.o.maxStreams ?? LIVE_MAX_STREAMS))
      throw new HttpError(503, "too_many_streams", `at most ${this.o.maxStreams ?? LIVE_MAX_STREAMS} live streams at once; close one or poll`, { "retry-after": "10" });
    let stream!: Stream;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = { view, allowed, controller, started: false, lastWriteMs: 0, afterId: view.kind === "events" ? view.afterId : null, statuses: new Map(), matched: null, lastSent: null };
        this.#streams.add(stream);
        // Reconnect within 2 s after a dropped connection (the browser's EventSource does it).
        this.#write(stream, "retry: 2000\n\n");
      },
      cancel: () => this.#remove(stream),
    }, { highWaterMark: this.o.behindBytes ?? BEHIND_BYTES, size: (chunk) => chunk?.byteLength ?? 0 });
    this.#timer ??= setInterval(() => this.#kick(), this.o.tickMs ?? LIVE_TICK_MS);
    this.#timer.unref?.();
    queueMicrotask(() => this.#kick());
    return new Response(body, {
      headers: { ...API_HEADERS, "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" },
    });
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const s of [...this.#streams]) this.#end(s);
  }

  #end(s: Stream): void {
    this.#remove(s);
    try {
      s.controller.close();
    } catch {
      // already closed by the client
    }
  }

  #remove(s: Stream): void {
    this.#streams.delete(s);
    if (this.#streams.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #write(s: Stream, text: string): void {
    try {
      s.controller.enqueue(encoder.encode(text));
      s.lastWriteMs = this.o.nowMs();
    } catch {
      return this.#remove(s); // the client went away
    }
    if ((s.controller.desiredSize ?? 0) < 0) this.#end(s);
  }

  #send(s: Stream, message: unknown): void {
    this.#write(s, `data: ${JSON.stringify(message)}\n\n`);
  }

  // One tick at a time; a stream opened meanwhile gets its first message right after. A tick that
  // took long (a deep queue to count, a slow disk) spaces out the next: at most 5 % of this thread.
  #kick(): void {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    const waiting = [...this.#streams].some((s) => !s.started);
    if (!waiting && performance.now() < this.#notBeforeMs) return;
    this.#busy = true;
    const started = performance.now();
    void this.#tick()
      .catch((err: unknown) => isStoreUnreachable(err) || this.o.log.warn("live stream update failed", { error: String((err as Error)?.message ?? err) }))
      .finally(() => {
        this.#notBeforeMs = performance.now() + 19 * (performance.now() - started);
        this.#busy = false;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        }
      });
  }

  async #tick(): Promise<void> {
    if (this.#streams.size === 0) return;
    const version = await storeChangeMark(this.o.reads);
    const changed = version !== this.#version || ++this.#quietTicks >= QUERY_ANYWAY_TICKS;
    if (changed) (this.#version = version), (this.#quietTicks = 0);
    const tick = new TickReads(this.o);
    for (const s of [...this.#streams]) {
      if (!s.allowed()) {
        this.#end(s);
        continue;
      }
      if (changed || !s.started) {
        await this.#update(s, tick, !s.started);
        s.started = true; // only once its first message went out: a failed read is tried again next tick
      }
      if (this.o.nowMs() - s.lastWriteMs >= HEARTBEAT_MS) this.#write(s, ": keep-alive\n\n");
    }
  }

  async #update(s: Stream, tick: TickReads, first: boolean): Promise<void> {
    const view = s.view;
    if (view.kind === "events") {
      const page = await tick.events(view.filter);
      const fresh = page.filter((e) => s.afterId === null || e.id > s.afterId);
      let gap = false;
      // The whole page is new: what arrived between the last event sent and this page is below it.
      for (let pages = 1, below = page; s.afterId !== null && below.length === EVENTS_PAGE && fresh.length === pages * EVENTS_PAGE; pages++) {
        if (pages === EVENTS_PAGES) {
          gap = true;
          break;
        }
        below = await tick.events({ ...view.filter, cursor: below.at(-1)!.id });
        fresh.push(...below.filter((e) => e.id > s.afterId!));
      }
      // An event's status changes when its own or any of its targets' does.
      const key = (e: (typeof page)[number]) => `${e.status} ${JSON.stringify(e.targets)}`;
      // Each with its per-target line as the events page draws it (ui/format.ts targetsLineText).
      const statuses: [string, string, (typeof page)[number]["targets"], string | null][] = [];
      for (const e of page) if (!fresh.includes(e) && s.statuses.get(e.id) !== key(e)) statuses.push([e.id, e.status, e.targets, targetsLineText(e.targets)]);
      // Shown and now out of the list, though not pushed below it by newer events: no longer matching
      // its filter (a status filter, once a bulk action moved it on). The page says so on its row.
      const bottom = page.length === view.filter.limit ? page.at(-1)!.id : null;
      const listed = new Set(page.map((e) => e.id));
      const left = [...s.statuses.keys()].filter((id) => !listed.has(id) && (bottom === null || id > bottom));
      s.statuses = new Map(page.map((e) => [e.id, key(e)]));
      if (fresh.length > 0) s.afterId = fresh[0]!.id;
      const events = fresh.map((e) => ({ ...e, targetsLine: targetsLineText(e.targets) }));
      // Counted again, not added up from the rows shown: events leave a status filter below the
      // newest page too (a bulk action moves them on), and retention takes them from any filter.
      const matched = await tick.count(view.filter);
      const recounted = matched !== s.matched;
      s.matched = matched;
      if (first || fresh.length > 0 || statuses.length > 0 || left.length > 0 || recounted) this.#send(s, { kind: "events", events, statuses, left, gap, matched });
      return;
    }
    if (view.kind === "event") {
      // The whole event is read again only when its deliveries changed (its body may be megabytes),
      // or what holds their targets back did (a circuit opened, reopened or run out: the card says until when).
      const version = await tick.eventVersion(view.id);
      const drawn = version === null ? null : `${version} ${await tick.holds()}`;
      if (!first && drawn === s.lastSent) return;
      s.lastSent = drawn;
      this.#send(s, { kind: "event", event: version === null ? null : await tick.event(view.id) });
      return;
    }
    const text = JSON.stringify({ kind: "targets", targets: await tick.targets() });
    if (text === s.lastSent) return;
    s.lastSent = text;
    this.#write(s, `data: ${text}\n\n`);
  }
}

/** One tick's reads, each made once however many streams show the same view. */
class TickReads {
  #cache = new Map<string, Promise<unknown>>();
  constructor(private readonly o: LiveHubOptions) {}

  #once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.#cache.get(key) as Promise<T> | undefined;
    if (p === undefined) this.#cache.set(key, (p = read()));
    return p;
  }

  /** The newest page of the list under `filter`. */
  events(filter: EventFilter): Promise<EventJson[]> {
    return this.#once(`events:${JSON.stringify(filter)}`, async () => (await listEventsMatching(this.o.reads, filter)).events.map(eventJson));
  }

  /** How many events `filter` matches, up to the events page's cap (past it, one more). */
  count(filter: EventFilter): Promise<number> {
    const whole = withoutPaging(filter);
    return this.#once(`count:${JSON.stringify(whole)}`, () => countEventsUpTo(this.o.reads, whole, EVENTS_COUNT_CAP));
  }

  /** What changes when the event's deliveries do (store eventVersion), or null once it is gone. */
  eventVersion(id: string): Promise<string | null> {
    return this.#once(`version:${id}`, () => eventVersion(this.o.reads, id));
  }

  /** An event's status and deliveries with their attempts (not its request: the page has it), or null once gone. */
  event(id: string) {
    return this.#once(`event:${id}`, async () => {
      const ev = await getEvent(this.o.reads, id);
      if (ev === null) return null;
      const { request: _request, ...rest } = eventDetailJson({ ...ev, body: null, headers: null });
      return rest;
    });
  }

  /** Every configured target's hold as the event page draws it (ui/event-page.ts targetHolds), as one text. */
  holds(): Promise<string> {
    return this.#once("holds", async () => {
      const names = this.o.targets().map((t) => t.name);
      const listens = new Set(this.o.targets().filter((t) => t.kind === "listen").map((t) => t.name));
      const states = await readTargetStates(this.o.reads);
      const waitsForClient = (t: string) => listens.has(t) && !(this.o.listenStatus?.(t).connected ?? false);
      const holdOf = targetHolds(names, (t) => states.get(t)?.circuitOpenUntil ?? null, this.o.nowMs(), waitsForClient);
      return JSON.stringify(names.map(holdOf));
    });
  }

  /** Every configured target as GET /api/targets shows it. */
  targets() {
    return this.#once("targets", async () => {
      const now = this.o.nowMs();
      const targets = this.o.targets();
      const stats = await targetStats(this.o.reads, targets.map((t) => t.name), now);
      // Each with the state its card is drawn from (targets-page.ts drawnState): a change there redraws the card.
      return targets.map((t, i) => {
        const json = targetJson(t, stats[i]!, now, this.o.listenStatus?.(t.name));
        return { ...json, drawn: drawnState(json) };
      });
    });
  }
}
