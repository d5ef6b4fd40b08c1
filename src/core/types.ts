/**
 * Domain types shared by every module. `core/` imports nothing of ours but
 * this file, so config, store, delivery and http all speak these shapes.
 */

/** Where a value comes from in a request: a JSON path into the body or a header. */
export type ValueRef =
  | { kind: "json"; path: string[] } // "$.order.id" → ["order", "id"]
  // "header:X-Webhook-Event" → lower-cased name; a preset may name the same header as a provider
  // also sends it under another name (`alias`, read when `name` is absent: Shopify's newer
  // deliveries drop the X- prefix).
  | { kind: "header"; name: string; alias?: string }
  | { kind: "query"; name: string } // "query:id"
  // The first of several with a value: a preset's key part that reads like its event type (Points'
  // event: the X-Webhook-Event header, else the body's `event`). Not written in config.
  | { kind: "first"; refs: ValueRef[] };

/** Named provider presets (SPEC.md "verify"). */
export const PRESETS = [
  "standard-webhooks",
  "svix",
  "stripe",
  "github",
  "gitlab",
  "shopify",
  "slack",
  "twilio",
  "paddle",
  "square",
  "mailgun",
  "points",
  "ploints",
  "poynt",
  "point",
  "pinpoint",
] as const;
export type PresetName = (typeof PRESETS)[number];

export type HmacAlgorithm = "sha1" | "sha256" | "sha512";
export type SignatureEncoding = "hex" | "base64";

/**
 * A resolved verification spec: secrets are already read from env:/file:,
 * durations are numbers. Built by config/, consumed by core/verify.
 */
export type VerifySpec =
  | {
      kind: "preset";
      preset: PresetName;
      secrets: string[];
      toleranceSec: number;
      /** Public URL the provider calls (Twilio, Square sign it). */
      url?: string;
    }
  | {
      kind: "hmac";
      header: string; // lower-cased
      algorithm: HmacAlgorithm;
      encoding: SignatureEncoding;
      prefix: string;
      /** Template over {body}, {timestamp}, {id}, {url}. */
      signed: string;
      secrets: string[];
      timestampHeader?: string; // lower-cased
      /** How the timestamp header writes the time: Unix seconds (default), milliseconds, or RFC 3339. */
      timestampFormat?: "unix" | "unix_ms" | "rfc3339";
      /** How the secret becomes the HMAC key: its UTF-8 bytes (default), or decoded from base64 or hex. */
      secretEncoding?: "utf8" | "base64" | "hex";
      idHeader?: string; // lower-cased
      toleranceSec: number;
      url?: string;
    }
  | { kind: "shared-secret"; header: string; secrets: string[] }
  | { kind: "basic"; username: string; secrets: string[] }
  | { kind: "none" };

/** The request as the verifier sees it: raw bytes, case-insensitive headers. */
export interface InboundRequest {
  method: string;
  /** The URL as the provider called it (public_url + path + query when configured). */
  url: string;
  headers: Headers;
  body: Uint8Array;
}

/**
 * Expected outcomes are values, never exceptions (STYLE.md). `reason` is a
 * short code (metrics, stored rejections); `message` says in words what was
 * wrong, without secrets or the expected signature.
 */
export type VerifyResult = { ok: true } | { ok: false; reason: string; message: string };

/** Per-preset defaults a source inherits unless config overrides them. */
export interface PresetDefaults {
  dedupe: ValueRef[]; // empty → body hash
  eventType: ValueRef[]; // first non-empty wins
  forwardHeaders: string[]; // lower-cased provider headers forwarded to targets
}

/** A target's retry schedule, resolved from config (durations in ms). */
export interface RetryPolicy {
  /** One delay per attempt: the first attempt goes at once (its entry, "0s", is not applied), each later one waits its own. */
  scheduleMs: number[];
  /** 0..1: each delay is multiplied by a random factor in [1-jitter, 1+jitter]. */
  jitter: number;
}

/**
 * Rejected requests kept as rows per source and second (ingest's
 * RejectionLimiter); all are counted. What reads the rows (the mismatch
 * rule) must know how far they can stand for a flood.
 */
export const REJECTIONS_KEPT_PER_SECOND = 10;

/** Source name of test events (a target's "Send test event"); config names cannot start with "_", so it never collides. */
export const TEST_SOURCE = "_test";

/** Every delivery status, in lifecycle order ("cancelled": an operator's bulk cancel). */
export const DELIVERY_STATUSES = ["pending", "delivering", "delivered", "failed", "paused", "cancelled"] as const;
/** One delivery status. */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** The statuses of a delivery not yet finished: on its way, never replayed or redelivered over. */
export const OPEN_STATUSES = ["pending", "delivering", "paused"] as const satisfies readonly DeliveryStatus[];

/** Who made a delivery: ingest (a test event too), an operator's redeliver (UI or API), or `hookrelay replay`. */
export const DELIVERY_ORIGINS = ["ingest", "redeliver", "replay"] as const;
/** One delivery origin. */
export type DeliveryOrigin = (typeof DELIVERY_ORIGINS)[number];

/** The windows the admin figures count stored rows over: a source's recent counts, a target's success rate. */
export const SOURCE_STATS_WINDOW_MS = 15 * 60_000;
export const TARGET_STATS_WINDOW_MS = 60 * 60_000;
