import { afterEach, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { recordingTarget, runCleanups, SECRET, targetConfig } from "../../test/delivery/fixtures.ts";
import { decodeSigningSecret } from "../core/outbound-signing.ts";
import { parseListenMessage, type DeliveryMessage } from "../core/listen-protocol.ts";
import { silentLogger } from "../log/logger.ts";
import { StoreError } from "../store/errors.ts";
import type { LeasedDelivery, OutcomeRecord } from "../store/deliveries.ts";
import { runAttempt, type AttemptContext, type AttemptReport, type DeliveryTarget, type Recorded } from "./attempt.ts";
import { ListenSession } from "./listen-session.ts";
import { createSender } from "./sender.ts";
import { TargetHealth } from "./target-health.ts";
import { unpackAttemptRequest } from "../store/attempt-request.ts";
import { httpTransport, type Transport } from "./transport.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

// The real time: the official verifier refuses a webhook-timestamp far from its own clock.
const NOW = Date.now();
const body = '{"type":"order.paid","amount":42}';

function delivery(over: Partial<LeasedDelivery> = {}): LeasedDelivery {
  return {
    id: "dlv_1", eventId: "evt_1", target: "t", leaseId: "lease_1", attempts: 0, source: "shop", eventType: "order.paid",
    contentType: "application/json", headers: [["x-shop-topic", "orders/paid"]], body: new TextEncoder().encode(body), ...over,
  };
}

/** The context of one attempt, recording what it would write and report instead of a store. */
function context() {
  const records: OutcomeRecord[] = [];
  const reports: AttemptReport[] = [];
  const freed: string[] = [];
  const targets = new Map([["t", targetConfig("t", "http://unused")]]);
  const store = { reads: { execute: async () => ({ rows: [] }) }, writer: { write: async () => [] } } as never;
  const ctx: AttemptContext = {
    clock: () => NOW,
    random: () => 0.5,
    forwardHeaders: () => ["x-shop-topic"],
    freeSlot: (d) => void freed.push(d.id),
    record: async (r): Promise<Recorded> => {
      records.push(r);
      return { updated: true, target: null };
    },
    health: new TargetHealth(store, targets, { threshold: 10, baseMs: 1000, maxMs: 1000 }, silentLogger),
    onAttempt: (r) => void reports.push(r),
    log: silentLogger,
  };
  return { ctx, records, reports, freed };
}

const target = (transport: Transport, kind: "push" | "listen" = "push"): DeliveryTarget => ({
  config: targetConfig("t", "http://unused", { kind }),
  keys: [decodeSigningSecret(SECRET)!],
  transport,
  leaseMs: 10_000,
});

test("over HTTP, an attempt sends the signed stored request and records the target's answer as the outcome", async () => {
  const sink = recordingTarget(cleanups, (_r, n) => ({ status: n === 1 ? 503 : 204 }));
  const { ctx, records, reports, freed } = context();
  const push = target(httpTransport(targetConfig("t", sink.url), createSender()));

  await runAttempt(ctx, push, delivery());
  await runAttempt(ctx, push, delivery({ attempts: 1 }));

  const [first, second] = sink.received;
  const headers = Object.fromEntries(first!.headers.entries());
  expect(new Webhook(SECRET).verify(Buffer.from(first!.body), headers)).toEqual({ type: "order.paid", amount: 42 });
  expect([headers["webhook-id"], headers["hookrelay-attempt"], headers["x-shop-topic"]]).toEqual(["evt_1", "1", "orders/paid"]);
  expect(second!.headers.get("hookrelay-attempt")).toBe("2");
  expect(records.map((r) => [r.status, r.attempt?.statusCode, r.nextAttemptAt, r.healthy])).toEqual([
    ["pending", 503, NOW + 5_000, false],
    ["delivered", 204, null, true],
  ]);
  expect(records.every((r) => r.leaseId === "lease_1" && r.attempt !== null)).toBe(true);
  expect(reports.map((r) => r.status)).toEqual(["pending", "delivered"]);
  expect(freed).toEqual(["dlv_1", "dlv_1"]);
});

test("through a listen client, the same attempt sends the same signed request and records the client's ack", async () => {
  const frames: DeliveryMessage[] = [];
  let session!: ListenSession;
  const socket = {
    send(text: string) {
      const msg = parseListenMessage(text);
      if (msg?.type !== "delivery") return;
      frames.push(msg);
      // The client posts it locally and acks: a 500 first, then a 200.
      const ok = frames.length > 1;
      queueMicrotask(() =>
        session.receive({ type: "ack", deliveryId: msg.deliveryId, ok, status: ok ? 200 : 500, durationMs: 4, error: ok ? null : "HTTP 500", responseExcerpt: "local" }),
      );
    },
    close() {},
  };
  session = new ListenSession({ log: silentLogger, ackMarginMs: 1000, pingMs: 60_000 }, targetConfig("t", "", { kind: "listen" }), socket);
  cleanups.push(() => session.end());
  const { ctx, records, reports } = context();
  const listen = target({ send: (a) => session.deliver(a) }, "listen");

  await runAttempt(ctx, listen, delivery());
  await runAttempt(ctx, listen, delivery({ attempts: 1 }));

  const headers = Object.fromEntries(frames[0]!.headers);
  expect(new Webhook(SECRET).verify(Buffer.from(frames[0]!.bodyBase64, "base64").toString(), headers)).toEqual({ type: "order.paid", amount: 42 });
  expect(frames.map((f) => f.attempt)).toEqual([1, 2]);
  expect(records.map((r) => [r.status, r.attempt?.statusCode, r.attempt?.durationMs, r.error])).toEqual([
    ["pending", 500, 4, "HTTP 500"],
    ["delivered", 200, 4, null],
  ]);
  expect(reports.map((r) => r.status)).toEqual(["pending", "delivered"]);
  // Each attempt records what went over the socket: the frame's headers, webhook-* included.
  const d = delivery();
  const event = { id: d.eventId, deliveryId: d.id, source: d.source, eventType: d.eventType, contentType: d.contentType, headers: d.headers };
  expect(records.map((r) => unpackAttemptRequest(r.attempt!.request!, event))).toEqual(frames.map((f) => ({ method: "POST", url: "listen://t", headers: f.headers })));
});

test("a listen client that goes away mid-attempt hands the delivery back uncounted, keeping its last error", async () => {
  const socket = { send() {}, close() {} };
  const session = new ListenSession({ log: silentLogger, ackMarginMs: 1000, pingMs: 60_000 }, targetConfig("t", "", { kind: "listen" }), socket);
  const { ctx, records, reports } = context();
  const attempt = runAttempt(ctx, target({ send: (a) => session.deliver(a) }, "listen"), delivery({ attempts: 2 }));
  session.end();
  await attempt;
  expect(records).toEqual([
    expect.objectContaining({ status: "pending", attempt: null, nextAttemptAt: NOW, error: null, healthy: null }),
  ]);
  expect(reports).toEqual([]);
});

test("an erased event's delivery is cancelled without any request and without an attempt row", async () => {
  let sent = 0;
  const { ctx, records } = context();
  await runAttempt(ctx, target({ send: async () => (sent++, { result: { kind: "response", status: 200, retryAfter: null, location: null }, durationMs: 0, excerpt: null, request: null }) }), delivery({ body: null, headers: null }));
  expect(sent).toBe(0);
  expect(records).toEqual([expect.objectContaining({ status: "cancelled", attempt: null, error: "event erased", healthy: null })]);
});

test("an outcome the store cannot record for want of the database is handed to the engine with what the attempt came to; another failure is logged", async () => {
  const { ctx, freed } = context();
  const unrecorded: [string, string | null][] = [];
  const errors: string[] = [];
  ctx.unrecorded = (d, status) => void unrecorded.push([d.id, status]);
  ctx.log = { ...silentLogger, error: (msg: string) => void errors.push(msg) };
  const answered: Transport = { send: async () => ({ result: { kind: "response", status: 200, retryAfter: null, location: null }, durationMs: 1, excerpt: "ok", request: null }) };
  ctx.record = async () => {
    throw new StoreError("unreachable", "cannot reach the database");
  };
  await runAttempt(ctx, target(answered), delivery());
  expect(unrecorded).toEqual([["dlv_1", "delivered"]]);
  expect(errors).toEqual([]);
  expect(freed).toContain("dlv_1"); // its slot is free for the next
  ctx.record = async () => {
    throw new StoreError("full", "store is full");
  };
  await runAttempt(ctx, target(answered), delivery({ id: "dlv_2" }));
  expect(unrecorded).toHaveLength(1);
  expect(errors).toEqual(["could not record an attempt"]);
});
