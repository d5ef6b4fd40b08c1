/**
 * The `hookrelay listen` wire protocol (docs/LISTEN.md): JSON text frames on
 * one WebSocket per listen target. The relay sends `ready` once, then one
 * `delivery` at a time in receive order; the client answers each with an
 * `ack` (ok: true only after a local 2xx). Parsing returns null for anything
 * malformed, so a bad frame is a value, never an exception.
 */

/** Bumped on an incompatible change; sent in `ready`. */
export const LISTEN_PROTOCOL_VERSION = 1;

/** Close codes the relay uses (4000–4999 are the application's range). */
export const LISTEN_CLOSE = {
  /** The client heard nothing from the relay for LISTEN_SILENCE_MS. */
  relaySilent: 4000,
  /** The client did not ack within the relay's deadline. */
  ackTimeout: 4008,
  /** A newer connection for the same target took over. */
  replaced: 4009,
  /** The relay is shutting down (also 1001 from the server). */
  shuttingDown: 1001,
} as const;

/** Relay → client, once after the upgrade. */
export interface ReadyMessage {
  type: "ready";
  target: string;
  protocol: number;
}

/**
 * Relay → client, every LISTEN_PING_MS while connected: lets the client tell
 * a quiet relay from a dead network (no frame for LISTEN_SILENCE_MS → reconnect).
 */
export interface PingMessage {
  type: "ping";
}

/** How often the relay pings a connected client. */
export const LISTEN_PING_MS = 15_000;
/** A client that hears nothing for this long drops the connection and reconnects. */
export const LISTEN_SILENCE_MS = 45_000;

/** Relay → client: one delivery to post locally. Headers are the ones a push target would get. */
export interface DeliveryMessage {
  type: "delivery";
  deliveryId: string;
  /** The event id, also in the `webhook-id` header. */
  webhookId: string;
  attempt: number;
  /** A failure of this attempt ends the delivery (the target's schedule is used up); absent from relays before it was sent. */
  lastAttempt?: boolean;
  eventType: string | null;
  source: string;
  headers: [string, string][];
  /** The exact stored body bytes. */
  bodyBase64: string;
}

/** Client → relay: the local outcome of one delivery. */
export interface AckMessage {
  type: "ack";
  deliveryId: string;
  /** true only after a local 2xx. */
  ok: boolean;
  /** Local HTTP status; null when no response (timeout, refused). */
  status: number | null;
  durationMs: number;
  error: string | null;
  /** First bytes of the local reply, for the relay's UI. */
  responseExcerpt: string | null;
}

/** Every frame either side sends. */
export type ListenMessage = ReadyMessage | PingMessage | DeliveryMessage | AckMessage;

const MAX_TEXT = 4096;

/** Parses a frame (text, or an already-parsed object) into a message; null if malformed. */
export function parseListenMessage(frame: unknown): ListenMessage | null {
  let m: unknown = frame;
  if (typeof frame === "string") {
    try {
      m = JSON.parse(frame);
    } catch {
      return null;
    }
  }
  if (typeof m !== "object" || m === null) return null;
  const o = m as Record<string, unknown>;
  const str = (v: unknown) => typeof v === "string";
  const strOrNull = (v: unknown) => v === null || v === undefined || typeof v === "string";
  switch (o.type) {
    case "ping":
      return { type: "ping" };
    case "ready":
      return str(o.target) && typeof o.protocol === "number" ? { type: "ready", target: o.target as string, protocol: o.protocol } : null;
    case "delivery": {
      const headersOk = Array.isArray(o.headers) && o.headers.every((h) => Array.isArray(h) && h.length === 2 && str(h[0]) && str(h[1]));
      if (!str(o.deliveryId) || !str(o.webhookId) || typeof o.attempt !== "number" || !strOrNull(o.eventType)) return null;
      if (!str(o.source) || !headersOk || !str(o.bodyBase64)) return null;
      return {
        type: "delivery",
        deliveryId: o.deliveryId as string,
        webhookId: o.webhookId as string,
        attempt: o.attempt,
        ...(typeof o.lastAttempt === "boolean" ? { lastAttempt: o.lastAttempt } : {}),
        eventType: (o.eventType as string | null | undefined) ?? null,
        source: o.source as string,
        headers: o.headers as [string, string][],
        bodyBase64: o.bodyBase64 as string,
      };
    }
    case "ack": {
      if (!str(o.deliveryId) || typeof o.ok !== "boolean" || !strOrNull(o.error) || !strOrNull(o.responseExcerpt)) return null;
      const status = typeof o.status === "number" && Number.isInteger(o.status) && o.status >= 100 && o.status <= 599 ? o.status : null;
      const durationMs = typeof o.durationMs === "number" && Number.isFinite(o.durationMs) ? Math.max(0, Math.round(o.durationMs)) : 0;
      const cap = (v: unknown) => (typeof v === "string" ? v.slice(0, MAX_TEXT) : null);
      // ok means a local 2xx: an ack claiming ok with another status is not believed.
      const ok = o.ok && status !== null && status >= 200 && status < 300;
      const error = ok ? null : (cap(o.error) ?? (o.ok ? "ack without a 2xx status" : "local delivery failed"));
      return { type: "ack", deliveryId: o.deliveryId as string, ok, status, durationMs, error, responseExcerpt: cap(o.responseExcerpt) };
    }
    default:
      return null;
  }
}

/** Encodes a message as one text frame. */
export function encodeListenMessage(m: ListenMessage): string {
  return JSON.stringify(m);
}
