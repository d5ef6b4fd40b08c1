/**
 * The `hookrelay listen` client: keeps one outbound WebSocket to the relay's
 * `/listen/<target>`, posts each delivery's exact bytes (with the headers a
 * push target would get) to the local URL for its event type, and acks only
 * after a local 2xx. Each connection starts with a plain GET preflight of the
 * same URL so a refusal is seen with its status: 401/404 end the client (a
 * wrong token or target is not fixed by retrying); anything else transient
 * (relay down, 5xx, 429 after failed tokens, dropped socket) reconnects with
 * capped, jittered backoff.
 */
import { parseListenMessage, encodeListenMessage, LISTEN_CLOSE, LISTEN_SILENCE_MS, type AckMessage, type DeliveryMessage } from "../core/listen-protocol.ts";
import { classifyDelivery, type SendResult } from "../core/delivery-outcome.ts";
import { createSender, type Sender } from "../delivery/sender.ts";
import type { Logger } from "../log/logger.ts";
import { pickForwardUrl, type ForwardRoutes } from "./forward-routes.ts";
import { reconnectDelayMs, type BackoffPolicy } from "./reconnect-backoff.ts";

/** Everything the client needs; `sender` and `random` are injectable for tests. */
export interface ListenClientOptions {
  /** The relay's public base URL (http/https; a path prefix is kept). */
  relayUrl: string;
  target: string;
  token: string;
  routes: ForwardRoutes;
  /** Per local POST. */
  timeoutMs: number;
  backoff: BackoffPolicy;
  log: Logger;
  sender?: Sender;
  random?: () => number;
  /** Drop and reconnect after this long without a frame from the relay (default LISTEN_SILENCE_MS). */
  silenceMs?: number;
}

/** Why the client ended. */
export type ListenExit = { ok: true } | { ok: false; code: "unauthorized" | "unknown_target" | "replaced"; message: string };

/** A running client. */
export interface ListenClient {
  /** Resolves when the client ends: stopped, or refused for good. */
  done: Promise<ListenExit>;
  /** Closes the connection (the relay re-sends anything unacked) and ends the client. */
  stop(): void;
}

// Deliveries acked in this run, so a re-send after a lost ack is acked without posting twice.
const REMEMBER = 10_000;

/** Starts the client; see the file comment. */
export function startListenClient(opts: ListenClientOptions): ListenClient {
  const send = opts.sender ?? createSender();
  const random = opts.random ?? Math.random;
  const base = opts.relayUrl.replace(/\/+$/, "");
  const httpUrl = `${base}/listen/${encodeURIComponent(opts.target)}`;
  const wsUrl = httpUrl.replace(/^http/i, "ws");
  const origin = new URL(base).origin;
  const auth = { authorization: `Bearer ${opts.token}` };
  const acked = new Map<string, number>();
  // Every local post, whatever connection its delivery came on (see connect).
  let chain = Promise.resolve();
  let stopped = false;
  let socket: WebSocket | null = null;
  let wakeSleep = () => {};
  let stopNow = () => {};

  async function preflight(): Promise<{ go: true } | { go: false; exit?: ListenExit; why: string; waitMs?: number }> {
    try {
      const res = await fetch(httpUrl, { headers: auth, signal: AbortSignal.timeout(10_000), redirect: "manual" });
      const text = await res.text();
      // The relay answers an unknown target like a wrong token, so that its public port does not tell which names exist.
      if (res.status === 401) {
        const message = `the relay refused the token for target "${opts.target}" (401): wrong token, or no listen target of that name`;
        return { go: false, exit: { ok: false, code: "unauthorized", message }, why: "401" };
      }
      if (res.status === 404) {
        // Named as asked for: a source URL pasted as the relay's (…/in/shop) asks for …/in/shop/listen/….
        const path = new URL(base).pathname.replace(/\/+$/, "");
        const hint = path === "" ? "is this a hookrelay relay?" : `give the relay's address alone (${origin}), not a path under it`;
        const message = text.includes("unknown_target") ? `the relay has no listen target "${opts.target}"` : `no listen endpoint at ${httpUrl} (404): ${hint}`;
        return { go: false, exit: { ok: false, code: "unknown_target", message }, why: "404" };
      }
      if (res.status === 426) return { go: true };
      // The relay's listen endpoint answers a plain GET with 426 (upgrade required): a 2xx is some other
      // server, most likely the local app's own address given as the relay's.
      if (res.status >= 200 && res.status < 300) {
        const message = `${origin} answered ${res.status} to ${new URL(httpUrl).pathname}: not a hookrelay relay's listen endpoint. The relay's public address comes first, the local app's goes to --forward-to`;
        return { go: false, exit: { ok: false, code: "unknown_target", message }, why: `HTTP ${res.status}` };
      }
      // A redirect is never the relay's public listener: most likely its admin UI (→ /login), a URL
      // copied from the browser. Retrying would loop for good; say where to point instead.
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get("location");
        const message = `${origin} answered a redirect (${res.status}${to ? ` to ${to}` : ""}), not a listen endpoint: is this the relay's admin UI? Use its public address (server.listen)`;
        return { go: false, exit: { ok: false, code: "unknown_target", message }, why: `HTTP ${res.status}` };
      }
      // Too many wrong tokens from this address: the relay says when to come back.
      if (res.status === 429) {
        const retryAfterSec = Number(res.headers.get("retry-after"));
        return { go: false, why: "the relay refuses this address for a while (429: too many wrong tokens from it)", waitMs: Number.isFinite(retryAfterSec) ? retryAfterSec * 1000 : undefined };
      }
      return { go: false, why: `HTTP ${res.status}` };
    } catch (err) {
      return { go: false, why: (err as Error).message.slice(0, 200) };
    }
  }

  function connect(): Promise<{ code: number; reason: string; ready: boolean }> {
    return new Promise((resolve) => {
      // Bun's WebSocket takes headers: the token never goes in the URL (where proxies log it).
      const ws = new WebSocket(wsUrl, { headers: auth } as unknown as string[]);
      socket = ws;
      let ready = false;
      const closed = (code: number, reason: string) => {
        clearInterval(watchdog);
        if (socket === ws) socket = null;
        resolve({ code, reason, ready });
      };
      // The relay pings every LISTEN_PING_MS: a long silence is a dead network, not a quiet relay.
      // The socket is dropped at once: a close handshake would wait for the silent peer's answer.
      let heardAt = performance.now();
      const silenceMs = opts.silenceMs ?? LISTEN_SILENCE_MS;
      const watchdog = setInterval(() => {
        if (performance.now() - heardAt <= silenceMs) return;
        ws.onmessage = null;
        // Bun's client WebSocket: dropped without a close handshake.
        (ws as unknown as { terminate(): void }).terminate();
        closed(LISTEN_CLOSE.relaySilent, "relay silent");
      }, Math.max(50, Math.min(5_000, silenceMs / 3)));
      ws.onmessage = (e) => {
        heardAt = performance.now();
        const msg = parseListenMessage(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer));
        if (msg?.type === "ping") return;
        if (msg?.type === "ready") {
          ready = true;
          opts.log.info("connected", { relay: origin, target: opts.target });
        } else if (msg?.type === "delivery") {
          // One at a time, in the order sent, across connections too: a delivery re-sent on a new
          // connection waits for its post on the old one, and is then acked without posting again.
          chain = chain.then(() => forward(ws, msg));
        } else {
          opts.log.warn("relay sent a malformed frame");
        }
      };
      ws.onclose = (e) => closed(e.code, e.reason);
    });
  }

  async function forward(ws: WebSocket, d: DeliveryMessage): Promise<void> {
    const fields = { delivery: d.deliveryId, event: d.webhookId, eventType: d.eventType, attempt: d.attempt };
    const seen = acked.get(d.deliveryId);
    if (seen !== undefined) {
      reply(ws, { type: "ack", deliveryId: d.deliveryId, ok: true, status: seen, durationMs: 0, error: null, responseExcerpt: "already delivered in this run" });
      opts.log.info("re-sent delivery acked without posting again", fields);
      return;
    }
    const url = pickForwardUrl(opts.routes, d.eventType);
    if (url === null) {
      const error = `no --forward-to for event type ${JSON.stringify(d.eventType)}`;
      reply(ws, { type: "ack", deliveryId: d.deliveryId, ok: false, status: null, durationMs: 0, error, responseExcerpt: null });
      opts.log.warn("not forwarded", { ...fields, error });
      return;
    }
    const body = new Uint8Array(Buffer.from(d.bodyBase64, "base64"));
    const report = await send({ url, body, headers: d.headers, timeoutMs: opts.timeoutMs, connectTimeoutMs: Math.min(opts.timeoutMs, 5000) });
    const status = report.result.kind === "response" ? report.result.status : null;
    const ok = status !== null && status >= 200 && status < 300;
    const error = ok ? null : describe(report.result);
    if (ok) remember(d.deliveryId, status);
    const told = reply(ws, { type: "ack", deliveryId: d.deliveryId, ok, status, durationMs: report.durationMs, error, responseExcerpt: report.excerpt });
    // The local app's address without its query, which may carry credentials.
    const target = new URL(url);
    const to = `${target.origin}${target.pathname}`;
    if (!told) opts.log.warn("the connection closed before this outcome could be acked: the relay sends the delivery again", { ...fields, to, statusCode: status, error });
    else if (ok) opts.log.info("forwarded", { ...fields, to, statusCode: status, durationMs: report.durationMs });
    else if (d.lastAttempt) opts.log.warn("local target failed on the last attempt: the delivery failed (redeliver it from the relay's UI)", { ...fields, to, statusCode: status, error });
    else opts.log.warn("local target failed; the relay retries", { ...fields, to, statusCode: status, error });
  }

  // False when the connection is gone: the ack cannot be sent.
  function reply(ws: WebSocket, ack: AckMessage): boolean {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeListenMessage(ack));
    return true;
  }

  function remember(id: string, status: number): void {
    acked.set(id, status);
    if (acked.size > REMEMBER) acked.delete(acked.keys().next().value!);
  }

  async function run(): Promise<ListenExit> {
    let failures = 0;
    while (!stopped) {
      const pre = await preflight();
      if (stopped) break;
      if (pre.go) {
        const closed = await connect();
        if (stopped) break;
        if (closed.code === LISTEN_CLOSE.replaced) {
          return { ok: false, code: "replaced", message: `another "hookrelay listen" connected for target "${opts.target}" and took over` };
        }
        if (closed.ready) failures = 0;
        opts.log.warn("connection closed", { relay: origin, target: opts.target, code: closed.code, reason: closed.reason || undefined });
      } else if (pre.exit) {
        return pre.exit;
      } else {
        opts.log.warn(pre.waitMs === undefined ? "cannot reach the relay" : "the relay asks to wait", { relay: origin, target: opts.target, error: pre.why });
      }
      failures++;
      const delayMs = Math.max(reconnectDelayMs(failures, random(), opts.backoff), (!pre.go && pre.waitMs) || 0);
      opts.log.info("reconnecting", { inMs: delayMs, failures });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return { ok: true };
  }

  const done = Promise.race([run(), new Promise<ListenExit>((resolve) => (stopNow = () => resolve({ ok: true })))]);
  return {
    done,
    stop() {
      stopped = true;
      socket?.close(1000, "client stopping");
      wakeSleep();
      stopNow();
    },
  };
}

/** What an attempt that failed at the local app comes to, in the words a push target's attempt would have. */
function describe(r: SendResult): string {
  const outcome = classifyDelivery(r, Date.now());
  return "error" in outcome ? outcome.error : `HTTP ${r.kind === "response" ? r.status : "?"}`;
}
