/**
 * GET /api/stream against a real relay over HTTP: what an open events list,
 * event page and targets page are sent as the store changes, that the list's
 * filters hold, and that the stream needs the admin token and is bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LIVE_MAX_STREAMS } from "../../src/http/live-stream.ts";
import { ADMIN_TOKEN } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";

/** Reads server-sent `data:` messages (JSON) from an open stream. */
class SseReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";
  #decoder = new TextDecoder();
  constructor(readonly response: Response) {
    this.#reader = response.body!.getReader();
  }
  /** The next message that satisfies `match`, or throws once `deadlineMs` passed. */
  async next<T = Record<string, unknown>>(match: (m: T) => boolean, deadlineMs: number): Promise<T> {
    const until = performance.now() + deadlineMs;
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data && match(JSON.parse(data) as T)) return JSON.parse(data) as T;
        continue;
      }
      const left = until - performance.now();
      if (left <= 0) throw new Error("no matching message before the deadline");
      const chunk = await Promise.race([this.#reader.read(), Bun.sleep(left).then(() => null)]);
      if (chunk === null) throw new Error("no matching message before the deadline");
      if (chunk.done) throw new Error("stream ended");
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }
  close(): Promise<void> {
    return this.#reader.cancel();
  }
}

type EventsMessage = { kind: "events"; events: { id: string; source: string; status: string }[]; statuses: [string, string][]; matched: number };
type EventMessage = { kind: "event"; event: { id: string; status: string; deliveries: { target: string; status: string; attempts: { status: number | null }[] }[] } };
type TargetsMessage = { kind: "targets"; targets: { name: string; state: string; queueDepth: number; enabled: boolean }[] };

describe("GET /api/stream", () => {
  let live: LiveRelay;
  let admin: string;
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const open = async (query: string) => {
    const res = await fetch(`${admin}/api/stream?${query}`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    return new SseReader(res);
  };
  const send = async (source: string, body: object, headers: Record<string, string> = {}) => {
    const res = await live.send(source, JSON.stringify(body), headers);
    expect(res.status).toBe(200);
    return ((await res.json()) as { id: string }).id;
  };

  beforeAll(async () => {
    live = await startLiveRelay();
    admin = live.relay.adminUrl;
  });
  afterAll(async () => {
    await live?.stop();
  });

  // The bounds are generous: ticks come once a second, spaced out on a slow machine (docs/admin-ui.md).
  test("a new event is pushed to an open events stream within a few ticks of its ack", async () => {
    const stream = await open("view=events");
    try {
      await stream.next(() => true, 10_000); // the first snapshot
      const id = await send("shop", { id: "live-1", type: "order.created" });
      const acked = performance.now();
      const m = await stream.next<EventsMessage>((m) => m.kind === "events" && m.events.some((e) => e.id === id), 10_000);
      expect(performance.now() - acked).toBeLessThan(10_000);
      expect(m.events.find((e) => e.id === id)).toMatchObject({ source: "shop" });
    } finally {
      await stream.close();
    }
  });

  test("an events stream sends only events its filters match", async () => {
    const stream = await open("view=events&source=billing");
    try {
      await stream.next(() => true, 10_000);
      const shop = await send("shop", { id: "live-2", type: "order.created" });
      const billing = await send("billing", { id: "live-3", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
      const seen: string[] = [];
      await stream.next<EventsMessage>((m) => {
        seen.push(...(m.events ?? []).map((e) => e.id));
        return seen.includes(billing);
      }, 10_000);
      expect(seen).not.toContain(shop);
    } finally {
      await stream.close();
    }
  });

  test("an events stream reads q as the page's search box: an exact dedupe key, not a key prefix", async () => {
    const stream = await open("view=events&q=zebra-7");
    try {
      await stream.next(() => true, 10_000);
      const longer = await send("shop", { id: "zebra-77", type: "order.created" });
      const exact = await send("shop", { id: "zebra-7", type: "order.created" });
      const seen: string[] = [];
      await stream.next<EventsMessage>((m) => {
        seen.push(...(m.events ?? []).map((e) => e.id));
        return seen.includes(exact);
      }, 10_000);
      expect(seen).not.toContain(longer);
    } finally {
      await stream.close();
    }
  });

  test("an events stream opened after a given id starts with the events newer than it", async () => {
    const older = await send("shop", { id: "live-4", type: "order.created" });
    const newer = await send("shop", { id: "live-5", type: "order.created" });
    const stream = await open(`view=events&after=${older}`);
    try {
      const m = await stream.next<EventsMessage>(() => true, 10_000);
      expect(m.events.map((e) => e.id)).toEqual([newer]);
    } finally {
      await stream.close();
    }
  });

  test("a burst of more than a page between two ticks is sent whole; past four pages the message says some were left out", async () => {
    for (const [type, burst, sent, gap] of [["burst.a", 120, 120, false], ["burst.b", 230, 200, true]] as const) {
      const first = await send("shop", { id: `${type}-0`, type });
      const ids: string[] = [];
      for (let i = 1; i <= burst; i++) ids.push(await send("shop", { id: `${type}-${i}`, type }));
      const stream = await open(`view=events&type=${type}&after=${first}`);
      try {
        const m = await stream.next<EventsMessage & { gap: boolean }>(() => true, 10_000);
        expect({ type, count: m.events.length, gap: m.gap }).toEqual({ type, count: sent, gap });
        // Newest first, none twice: the newest `sent` of the burst, by id (two sent in one millisecond order by their random part).
        expect(m.events.map((e) => e.id)).toEqual([...ids].sort().reverse().slice(0, sent));
      } finally {
        await stream.close();
      }
    }
  }, 30_000);

  test("an event stream sends the event's deliveries again when an attempt is recorded", async () => {
    const id = await send("shop", { id: "live-6", type: "order.created" });
    const stream = await open(`view=event&id=${id}`);
    try {
      const m = await stream.next<EventMessage>((m) => m.kind === "event" && m.event.deliveries.every((d) => d.status === "delivered"), 10_000);
      expect(m.event.id).toBe(id);
      expect(m.event.deliveries.map((d) => d.target).sort()).toEqual(["audit", "orders"]);
      expect(m.event.deliveries.every((d) => d.attempts.length === 1 && d.attempts[0]!.status === 200)).toBe(true);
    } finally {
      await stream.close();
    }
  });

  test("a targets stream sends a target's new state when it is disabled", async () => {
    const stream = await open("view=targets");
    try {
      const first = await stream.next<TargetsMessage>((m) => m.kind === "targets", 10_000);
      expect(first.targets.find((t) => t.name === "audit")!.enabled).toBe(true);
      const res = await fetch(`${admin}/api/targets/audit/disable`, { method: "POST", headers: auth });
      expect(res.status).toBe(200);
      const m = await stream.next<TargetsMessage>((m) => m.kind === "targets" && m.targets.some((t) => t.name === "audit" && !t.enabled), 10_000);
      expect(m.targets.find((t) => t.name === "audit")!.state).toBe("disabled");
      await fetch(`${admin}/api/targets/audit/enable`, { method: "POST", headers: auth });
    } finally {
      await stream.close();
    }
  });

  test("the stream needs the admin token, and bad parameters get a 400 with the reason", async () => {
    expect((await fetch(`${admin}/api/stream?view=events`)).status).toBe(401);
    const bad = await fetch(`${admin}/api/stream?view=event&id=nope`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("id");
    const noView = await fetch(`${admin}/api/stream`, { headers: auth });
    expect(noView.status).toBe(400);
    // A misspelt filter is refused, as on GET /api/events, not streamed unfiltered.
    const misspelt = await fetch(`${admin}/api/stream?view=events&stauts=failed`, { headers: auth });
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as { error: { message: string } }).error.message).toBe("stauts: unknown key");
  });

  test("past the cap on open streams the next one gets a 503, and a closed one frees its place", async () => {
    const streams: SseReader[] = [];
    try {
      for (let i = 0; i < LIVE_MAX_STREAMS; i++) streams.push(await open("view=targets"));
      const refused = await fetch(`${admin}/api/stream?view=targets`, { headers: auth });
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).not.toBeNull();
      await streams.pop()!.close();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        const again = await fetch(`${admin}/api/stream?view=targets`, { headers: auth });
        status = again.status;
        if (status === 200) streams.push(new SseReader(again));
        else await Bun.sleep(50);
      }
      expect(status).toBe(200);
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
  });
});

describe("GET /api/stream with a status filter", () => {
  test("an event that no longer matches (its deliveries cancelled) is named as left, so the page stops showing it as pending", async () => {
    const live = await startLiveRelay({ receiver: () => new Response("no", { status: 500 }) });
    try {
      const admin = live.relay.adminUrl;
      const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const id = ((await (await live.send("shop", JSON.stringify({ id: "left-1", type: "order.created" }))).json()) as { id: string }).id;
      // Its attempt failed: pending, a retry later.
      for (let i = 0; i < 100; i++) {
        const e = (await (await fetch(`${admin}/api/events/${id}`, { headers: auth })).json()) as { status: string; deliveries: { attempts: unknown[] }[] };
        if (e.status === "pending" && e.deliveries.every((d) => d.attempts.length > 0)) break;
        await Bun.sleep(50);
      }
      const stream = new SseReader(await fetch(`${admin}/api/stream?view=events&status=pending&source=shop`, { headers: auth }));
      try {
        const first = await stream.next<EventsMessage>(() => true, 10_000);
        expect(first.events.map((e) => e.id)).toContain(id);
        const cancel = await fetch(`${admin}/api/deliveries/cancel`, { method: "POST", headers: auth, body: JSON.stringify({ filter: { source: "shop" } }) });
        expect(cancel.status).toBe(202);
        const m = await stream.next<EventsMessage & { left?: string[] }>((m) => (m.left ?? []).includes(id), 15_000);
        expect(m.left).toEqual([id]);
      } finally {
        await stream.close();
      }
    } finally {
      await live.stop();
    }
  }, 30_000);

  test("the count each message carries is the filter's: events that leave it below the newest page leave the count too", async () => {
    const live = await startLiveRelay({ receiver: () => new Response("no", { status: 500 }) });
    try {
      const admin = live.relay.adminUrl;
      const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      // More than the newest page the stream follows (50): ten of them leave below it.
      for (let i = 0; i < 60; i++) await live.send("shop", JSON.stringify({ id: `below-${i}`, type: "order.created" }));
      const stream = new SseReader(await fetch(`${admin}/api/stream?view=events&status=pending&source=shop`, { headers: auth }));
      try {
        // Each waits for its first attempt (a 500, then pending): counted once all are.
        await stream.next<EventsMessage>((m) => m.matched === 60, 20_000);
        const cancel = await fetch(`${admin}/api/deliveries/cancel`, { method: "POST", headers: auth, body: JSON.stringify({ filter: { source: "shop" } }) });
        expect(cancel.status).toBe(202);
        const m = await stream.next<EventsMessage & { left?: string[] }>((m) => m.matched === 0, 15_000);
        expect(m.matched).toBe(0);
      } finally {
        await stream.close();
      }
    } finally {
      await live.stop();
    }
  }, 45_000);
});
