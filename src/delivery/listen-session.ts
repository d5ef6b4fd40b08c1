/**
 * One connected `hookrelay listen` client, relay side. The loop leases the
 * target's oldest open delivery (ordered: one at a time, in receive order),
 * sends it, and waits for the client's ack. Ack ok → delivered with one
 * attempt row; nack → an attempt row and a retry by the target's schedule;
 * disconnect or ack timeout → the lease is released (no attempt counted, the
 * delivery is due again at once), so it is re-sent on the next connection.
 * That is at-least-once: the client dedupes by delivery id within its run.
 */
import type { SqlClient as Client } from "../store/remote-client.ts";
import type { TargetConfig } from "../config/types.ts";
import { makeId } from "../core/ids.ts";
import { encodeListenMessage, LISTEN_CLOSE, LISTEN_PING_MS, LISTEN_PROTOCOL_VERSION, type AckMessage } from "../core/listen-protocol.ts";
import { nextAttemptAt } from "../core/retry-schedule.ts";
import type { Logger } from "../log/logger.ts";
import { leaseDueDeliveries, recordOutcomes, releaseLeases, type LeasedDelivery, type OutcomeRecord } from "../store/deliveries.ts";
import { isHeadDeliveryDue } from "../store/listen-deliveries.ts";
import { buildOutboundHeaders } from "./outbound-request.ts";

/** The socket as the session needs it (Elysia's ws in production, a fake in unit tests). */
export interface ListenSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** What every session of one relay shares. */
export interface ListenSessionDeps {
  client: Client;
  clock: () => number;
  random: () => number;
  log: Logger;
  /** Lower-cased provider headers a source forwards. */
  forwardHeadersFor: (source: string) => readonly string[];
  /** Metrics hook, same shape as the push scheduler's. */
  onAttempt?: (r: { target: string; status: OutcomeRecord["status"]; durationMs: number }) => void;
  /** How often an idle session looks for due work when nothing wakes it. */
  pollMs: number;
  /** Extra time the client gets beyond the target's timeout to ack. */
  ackMarginMs: number;
  /** Heartbeat period (default LISTEN_PING_MS). */
  pingMs?: number;
}

type AckWait = AckMessage | "closed" | "timeout";

/** A running session; `done` resolves once its lease (if any) is settled. */
export class ListenSession {
  readonly done: Promise<void>;
  #closed = false;
  #ping: ReturnType<typeof setInterval>;
  #idle: (() => void) | null = null;
  #waiting: { deliveryId: string; resolve(r: AckWait): void } | null = null;
  readonly #rnd = () => crypto.getRandomValues(new Uint8Array(10));

  constructor(
    private readonly deps: ListenSessionDeps,
    readonly target: TargetConfig,
    private readonly keys: Uint8Array[],
    private readonly socket: ListenSocket,
  ) {
    socket.send(encodeListenMessage({ type: "ready", target: target.name, protocol: LISTEN_PROTOCOL_VERSION }));
    // The heartbeat the client watches for: silence means the network, not an idle relay.
    this.#ping = setInterval(() => {
      if (!this.#closed) this.socket.send(encodeListenMessage({ type: "ping" }));
    }, deps.pingMs ?? LISTEN_PING_MS);
    (this.#ping as { unref?(): void }).unref?.();
    this.done = this.#run().catch((err) => {
      // The store failed: drop the client so it reconnects; a lease it held expires and is retaken.
      deps.log.error("listen session failed", { target: target.name, error: String(err) });
      this.#close(1011, "relay error");
    });
  }

  /** New work may be due: stop idling. */
  wake(): void {
    this.#idle?.();
  }

  /** An ack from the client; acks for anything but the delivery in flight are ignored. */
  receive(ack: AckMessage): void {
    if (this.#waiting?.deliveryId === ack.deliveryId) this.#waiting.resolve(ack);
    else this.deps.log.warn("listen ack for no delivery in flight", { target: this.target.name, delivery: ack.deliveryId });
  }

  /** The socket closed (or is being closed with `code`): release what is in flight. */
  end(code?: number, reason = ""): Promise<void> {
    this.#close(code, reason);
    return this.done;
  }

  #close(code: number | undefined, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ping);
    if (code !== undefined) this.socket.close(code, reason);
    this.#waiting?.resolve("closed");
    this.#idle?.();
  }

  async #run(): Promise<void> {
    const { deps, target } = this;
    const ackTimeoutMs = target.timeoutMs + deps.ackMarginMs;
    while (!this.#closed) {
      const leaseId = makeId("lease", deps.clock(), this.#rnd());
      const want = { target: target.name, slots: 1, concurrency: 1, ordered: true, leaseMs: ackTimeoutMs + 30_000 };
      const due = await isHeadDeliveryDue(deps.client, target.name, deps.clock());
      const [d] = due ? await leaseDueDeliveries(deps.client, { leaseId, nowMs: deps.clock(), wants: [want] }) : [];
      if (!d) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => done(), deps.pollMs);
          const done = () => {
            clearTimeout(timer);
            this.#idle = null;
            resolve();
          };
          this.#idle = done;
        });
        continue;
      }
      if (this.#closed) {
        await releaseLeases(deps.client, [leaseId], deps.clock());
        return;
      }
      await this.#deliver(d, ackTimeoutMs);
    }
  }

  async #deliver(d: LeasedDelivery, ackTimeoutMs: number): Promise<void> {
    const { deps, target } = this;
    const base = { deliveryId: d.id, leaseId: d.leaseId, eventId: d.eventId, target: d.target };
    if (d.body === null) {
      // Erased for privacy: there is nothing left to send.
      await recordOutcomes(deps.client, [{ ...base, attempt: null, status: "failed", nextAttemptAt: null, error: "event erased", healthy: null }], deps.clock());
      return;
    }
    const body = d.body;
    const number = d.attempts + 1;
    const at = deps.clock();
    const headers = buildOutboundHeaders({ ...d, body }, { attempt: number, nowMs: at, keys: this.keys, forwardHeaders: deps.forwardHeadersFor(d.source) });
    const ack = await new Promise<AckWait>((resolve) => {
      const timer = setTimeout(() => finish("timeout"), ackTimeoutMs);
      const finish = (r: AckWait) => {
        clearTimeout(timer);
        this.#waiting = null;
        resolve(r);
      };
      this.#waiting = { deliveryId: d.id, resolve: finish };
      this.socket.send(
        encodeListenMessage({
          type: "delivery",
          deliveryId: d.id,
          webhookId: d.eventId,
          attempt: number,
          eventType: d.eventType,
          source: d.source,
          headers,
          bodyBase64: Buffer.from(body).toString("base64"),
        }),
      );
    });
    const fields = { target: target.name, delivery: d.id, event: d.eventId, attempt: number };
    if (ack === "closed" || ack === "timeout") {
      // We cannot know whether the client posted it: give it back, due now, to be re-sent.
      await releaseLeases(deps.client, [d.leaseId], deps.clock());
      if (ack === "timeout") {
        deps.log.warn("listen client did not ack in time; reconnect to resume", { ...fields, ackTimeoutMs });
        this.#close(LISTEN_CLOSE.ackTimeout, "ack timeout");
      }
      return;
    }
    const done = deps.clock();
    const attempt = { id: makeId("att", at, this.#rnd()), at, statusCode: ack.status, durationMs: ack.durationMs, responseExcerpt: ack.responseExcerpt };
    let record: OutcomeRecord;
    if (ack.ok) {
      record = { ...base, attempt: { ...attempt, error: null }, status: "delivered", nextAttemptAt: null, error: null, healthy: true };
    } else {
      const next = nextAttemptAt(target.retry, number, done, deps.random());
      const status = next === null ? "failed" : "pending";
      record = { ...base, attempt: { ...attempt, error: ack.error }, status, nextAttemptAt: next, error: ack.error, healthy: false };
    }
    const res = await recordOutcomes(deps.client, [record], done);
    deps.onAttempt?.({ target: target.name, status: record.status, durationMs: ack.durationMs });
    const logFields = { ...fields, statusCode: ack.status, durationMs: ack.durationMs, error: record.error, via: "listen" };
    if (!res.updated.has(d.id)) deps.log.warn("attempt finished after its lease was lost", logFields);
    else if (record.status === "delivered") deps.log.info("delivered", logFields);
    else if (record.status === "failed") deps.log.warn("delivery failed", logFields);
    else deps.log.debug("attempt failed", { ...logFields, nextAttemptAt: record.nextAttemptAt });
  }
}
