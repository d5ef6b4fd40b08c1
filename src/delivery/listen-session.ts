/**
 * One connected `hookrelay listen` client, relay side: the transport of a
 * `listen` target's attempts. The scheduler leases the target's deliveries
 * one at a time in receive order (ordered, like any ordered target) and runs
 * each through the same attempt path as a push (attempt.ts); this session
 * only sends the delivery frame and waits for the client's ack. Ack ok →
 * delivered; a failed local request → retried by the target's schedule;
 * disconnect or ack timeout → nothing is known to have been sent: the
 * delivery goes back to the queue uncounted and is re-sent on the next
 * connection. That is at-least-once: the client dedupes by delivery id.
 */
import type { TargetConfig } from "../config/types.ts";
import { maskHeaders } from "../core/header-mask.ts";
import type { SendResult } from "../core/delivery-outcome.ts";
import { encodeListenMessage, LISTEN_CLOSE, LISTEN_PING_MS, LISTEN_PROTOCOL_VERSION, type AckMessage } from "../core/listen-protocol.ts";
import type { Logger } from "../log/logger.ts";
import { isLastAttempt } from "../core/retry-schedule.ts";
import type { PreparedAttempt, TransportReport } from "./transport.ts";

/** The socket as the session needs it (Elysia's ws in production, a fake in unit tests). */
export interface ListenSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Settings every session of one relay shares. */
export interface ListenSessionOptions {
  log: Logger;
  /** Extra time the client gets beyond the target's timeout to ack. */
  ackMarginMs: number;
  /** Heartbeat period (default LISTEN_PING_MS). */
  pingMs?: number;
}

type AckWait = AckMessage | "closed" | "timeout";

/** A connected client; `deliver` sends one attempt and resolves with what its ack says. */
export class ListenSession {
  #closed = false;
  #ping: ReturnType<typeof setInterval>;
  #waiting: { deliveryId: string; resolve(r: AckWait): void } | null = null;

  #target: TargetConfig;

  constructor(
    private readonly opts: ListenSessionOptions,
    target: TargetConfig,
    private readonly socket: ListenSocket,
  ) {
    this.#target = target;
    socket.send(encodeListenMessage({ type: "ready", target: target.name, protocol: LISTEN_PROTOCOL_VERSION }));
    // The heartbeat the client watches for: silence means the network, not an idle relay.
    this.#ping = setInterval(() => {
      if (!this.#closed) this.socket.send(encodeListenMessage({ type: "ping" }));
    }, opts.pingMs ?? LISTEN_PING_MS);
    (this.#ping as { unref?(): void }).unref?.();
  }

  /** The target's config this session runs under (the latest reload's). */
  get target(): TargetConfig {
    return this.#target;
  }

  /** A reload kept this client (same token): the next delivery waits for its ack by the target's new timeout. */
  reconfigure(target: TargetConfig): void {
    this.#target = target;
  }

  /** True while the client is connected and has no delivery waiting for its ack. */
  idle(): boolean {
    return !this.#closed && this.#waiting === null;
  }

  /** Sends one attempt and waits for its ack (at most the target's timeout plus the ack margin). */
  async deliver(a: PreparedAttempt): Promise<TransportReport> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    if (!this.idle()) return notSent("no idle listen client", elapsed());
    const d = a.delivery;
    const ackTimeoutMs = this.target.timeoutMs + this.opts.ackMarginMs;
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
          attempt: a.attempt,
          lastAttempt: isLastAttempt(this.target.retry, a.attempt),
          eventType: d.eventType,
          source: d.source,
          headers: a.headers,
          bodyBase64: Buffer.from(a.body).toString("base64"),
        }),
      );
    });
    if (ack === "closed") return notSent("listen client disconnected before its ack", elapsed());
    if (ack === "timeout") {
      this.opts.log.warn("listen client did not ack in time; reconnect to resume", { target: this.target.name, delivery: d.id, ackTimeoutMs });
      this.end(LISTEN_CLOSE.ackTimeout, "ack timeout");
      return notSent("listen client did not ack in time", elapsed());
    }
    const result: SendResult = ack.ok
      ? { kind: "response", status: ack.status!, retryAfter: null, location: null }
      : { kind: "client-failed", status: ack.status, message: ack.error ?? "local delivery failed" };
    // The client posts it to its own --forward-to URL, which the relay never learns.
    const request = { method: "POST", url: `listen://${this.target.name}`, headers: maskHeaders(a.headers) };
    return { result, durationMs: ack.durationMs, excerpt: ack.responseExcerpt, request };
  }

  /** An ack from the client; acks for anything but the delivery in flight are ignored. */
  receive(ack: AckMessage): void {
    if (this.#waiting?.deliveryId === ack.deliveryId) this.#waiting.resolve(ack);
    else this.opts.log.warn("listen ack for no delivery in flight", { target: this.target.name, delivery: ack.deliveryId });
  }

  /** The socket closed (or is being closed with `code`): a delivery waiting for its ack goes back to the queue. */
  end(code?: number, reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ping);
    if (code !== undefined) this.socket.close(code, reason);
    this.#waiting?.resolve("closed");
  }
}

function notSent(reason: string, durationMs: number): TransportReport {
  return { result: { kind: "not-sent", reason }, durationMs, excerpt: null, request: null };
}
