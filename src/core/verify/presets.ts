import type { PresetDefaults, PresetName, ValueRef, VerifySpec } from "../types.ts";
import { hmacVerifier, sharedSecretVerifier, type HmacSpec } from "./generic.ts";
import { mailgunVerifier } from "./mailgun.ts";
import { missingHeader, reject, type Verifier } from "./result.ts";
import { standardWebhooksKey, standardWebhooksVerifier, SVIX_HEADERS, WEBHOOK_HEADERS } from "./standard-webhooks.ts";
import { keyValueVerifier } from "./stripe-like.ts";
import { twilioVerifier } from "./twilio.ts";

/** The preset variant of VerifySpec. */
export type PresetSpec = Extract<VerifySpec, { kind: "preset" }>;

interface PresetEntry {
  build: (spec: PresetSpec) => Verifier;
  defaults: PresetDefaults;
  /** Headers whose value is the secret itself (never a derived signature): stored redacted. */
  credentialHeaders?: readonly string[];
  /** What the signature covers besides the body: a timestamp checked against `tolerance`, the URL the provider called. */
  signs?: { timestamp?: true; url?: true };
}

const json = (path: string): ValueRef => ({ kind: "json", path: path.split(".") });
const header = (name: string, alias?: string): ValueRef => (alias === undefined ? { kind: "header", name } : { kind: "header", name, alias });
/** The first of `refs` with a value. */
const first = (...refs: ValueRef[]): ValueRef => ({ kind: "first", refs });

/** A generic HMAC scheme with fixed settings, filled in from the preset spec. */
function hmacPreset(settings: Omit<HmacSpec, "kind" | "secrets" | "toleranceSec" | "url">) {
  return (spec: PresetSpec): Verifier =>
    hmacVerifier({ kind: "hmac", ...settings, secrets: spec.secrets, toleranceSec: spec.toleranceSec, url: spec.url });
}

/**
 * Try alternative signature headers in order; the first one present decides.
 * Used for a current/legacy pair (GitHub sha256/sha1) or renamed headers (Shopify).
 */
function firstPresent(...alternatives: { header: string; build: (spec: PresetSpec) => Verifier }[]) {
  return (spec: PresetSpec): Verifier => {
    const built = alternatives.map((a) => ({ header: a.header, verify: a.build(spec) }));
    const missing = missingHeader("missing_signature", alternatives.map((a) => a.header));
    return (req, nowMs) => {
      const chosen = built.find((b) => req.headers.has(b.header));
      return chosen ? chosen.verify(req, nowMs) : missing;
    };
  };
}

const bodyHmac = (name: string, algorithm: HmacSpec["algorithm"], encoding: HmacSpec["encoding"], prefix = "", signed = "{body}") => ({
  header: name,
  build: hmacPreset({ header: name, algorithm, encoding, prefix, signed }),
});

/**
 * GitLab: Standard Webhooks when the signing token is in use, else the plain
 * `X-Gitlab-Token`. Only a secret that is a signing key (base64, with or
 * without `whsec_`) checks a signature: a classic token that is not would be
 * no key at all, and a request signed with an empty one would pass.
 */
function gitlab(spec: PresetSpec): Verifier {
  const signingSecrets = spec.secrets.filter((secret) => standardWebhooksKey(secret) !== null);
  const signed = signingSecrets.length > 0 ? standardWebhooksVerifier(signingSecrets, spec.toleranceSec, WEBHOOK_HEADERS) : null;
  const token = sharedSecretVerifier("x-gitlab-token", spec.secrets);
  return (req, nowMs) => {
    if (!req.headers.has("webhook-signature")) return token(req, nowMs);
    const verdict = signed ? signed(req, nowMs) : null;
    if (verdict?.ok) return verdict;
    // A hook may carry both. A signature no configured secret checks (GitLab's signing token left out
    // of the config, or a classic token that happens to read as base64) does not refuse a request
    // whose classic token matches: the token alone lets a request in either way.
    if (req.headers.has("x-gitlab-token")) return token(req, nowMs);
    return verdict ?? reject("missing_signature", 'signed with webhook-signature, but no configured secret is a GitLab signing token ("whsec_" followed by base64): configure that token, or the secret token GitLab sends as X-Gitlab-Token');
  };
}

/** Every preset: how to verify it and the provider's natural dedupe/event/forward settings. */
export const PRESET_TABLE: Record<PresetName, PresetEntry> = {
  "standard-webhooks": {
    signs: { timestamp: true },
    build: (s) => standardWebhooksVerifier(s.secrets, s.toleranceSec, WEBHOOK_HEADERS),
    // The provider's webhook-* headers are never forwarded (forward-headers.ts): the relay signs with its own.
    defaults: { dedupe: [header("webhook-id")], eventType: [json("type")], forwardHeaders: [] },
  },
  svix: {
    signs: { timestamp: true },
    build: (s) => standardWebhooksVerifier(s.secrets, s.toleranceSec, SVIX_HEADERS),
    // Svix's verifier also takes the webhook-* names (Standard Webhooks'): so does the key.
    // Its svix-* headers are never forwarded either: the svix library would read them before the relay's.
    defaults: { dedupe: [first(header("svix-id"), header("webhook-id"))], eventType: [json("type")], forwardHeaders: [] },
  },
  stripe: {
    signs: { timestamp: true },
    build: (s) => keyValueVerifier("stripe", s.secrets, s.toleranceSec),
    defaults: { dedupe: [json("id")], eventType: [json("type")], forwardHeaders: ["stripe-signature"] },
  },
  github: {
    build: firstPresent(bodyHmac("x-hub-signature-256", "sha256", "hex", "sha256="), bodyHmac("x-hub-signature", "sha1", "hex", "sha1=")),
    defaults: {
      dedupe: [header("x-github-delivery")],
      eventType: [header("x-github-event")],
      forwardHeaders: [
        "x-github-delivery", "x-github-event", "x-github-hook-id", "x-github-hook-installation-target-type",
        "x-github-hook-installation-target-id", "x-hub-signature-256", "x-hub-signature",
      ],
    },
  },
  gitlab: {
    signs: { timestamp: true },
    build: gitlab,
    credentialHeaders: ["x-gitlab-token"],
    // Never forward x-gitlab-token: it is the secret itself.
    defaults: {
      dedupe: [header("idempotency-key")],
      eventType: [header("x-gitlab-event")],
      forwardHeaders: [
        "x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid", "x-gitlab-instance", "idempotency-key",
      ],
    },
  },
  shopify: {
    build: firstPresent(bodyHmac("x-shopify-hmac-sha256", "sha256", "base64"), bodyHmac("shopify-hmac-sha256", "sha256", "base64")),
    defaults: {
      // Shopify's newer "Events" deliveries send the same headers without the X- prefix. Its pages
      // disagree on the key (PROVIDERS.md): the event id when sent, else the webhook (delivery) id.
      dedupe: [first(header("x-shopify-event-id", "shopify-event-id"), header("x-shopify-webhook-id", "shopify-webhook-id"))],
      eventType: [header("x-shopify-topic", "shopify-topic")],
      forwardHeaders: [
        "x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-shop-domain", "x-shopify-api-version",
        "x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-triggered-at",
        "shopify-topic", "shopify-hmac-sha256", "shopify-shop-domain", "shopify-api-version",
        "shopify-webhook-id", "shopify-event-id", "shopify-triggered-at",
      ],
    },
  },
  slack: {
    signs: { timestamp: true },
    build: hmacPreset({
      header: "x-slack-signature", algorithm: "sha256", encoding: "hex", prefix: "v0=",
      signed: "v0:{timestamp}:{body}", timestampHeader: "x-slack-request-timestamp",
    }),
    defaults: {
      dedupe: [json("event_id")],
      eventType: [json("event.type"), json("type")],
      forwardHeaders: ["x-slack-signature", "x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason"],
    },
  },
  twilio: {
    signs: { url: true },
    build: (s) => twilioVerifier(s.secrets, s.url),
    // Form bodies: no JSON path applies, so dedupe falls back to the body hash.
    defaults: { dedupe: [], eventType: [], forwardHeaders: ["x-twilio-signature"] },
  },
  paddle: {
    signs: { timestamp: true },
    build: (s) => keyValueVerifier("paddle", s.secrets, s.toleranceSec),
    defaults: { dedupe: [json("event_id")], eventType: [json("event_type")], forwardHeaders: ["paddle-signature"] },
  },
  square: {
    signs: { url: true },
    build: firstPresent(
      bodyHmac("x-square-hmacsha256-signature", "sha256", "base64", "", "{url}{body}"),
      bodyHmac("x-square-signature", "sha1", "base64", "", "{url}{body}"),
    ),
    defaults: { dedupe: [json("event_id")], eventType: [json("type")], forwardHeaders: ["x-square-hmacsha256-signature", "x-square-signature"] },
  },
  mailgun: {
    signs: { timestamp: true },
    build: (s) => mailgunVerifier(s.secrets, s.toleranceSec),
    // The token is the replay defence (the event data is not signed): JSON's `signature.token`, a
    // legacy form's `token` field — one key for both, so a block re-sent in the other encoding with
    // other data is a duplicate too.
    defaults: {
      dedupe: [first(json("signature.token"), json("token"))],
      eventType: [json("event-data.event"), json("event")],
      forwardHeaders: [],
    },
  },
  points: {
    build: (s) => sharedSecretVerifier("x-webhook-secret", s.secrets),
    credentialHeaders: ["x-webhook-secret"],
    // Never forward x-webhook-secret: it is the secret itself.
    // The body carries the event name too ("event"): the type when a request lacks the header,
    // and the key's event likewise, so that the key is still (order.id, event) then.
    defaults: {
      dedupe: [json("order.id"), first(header("x-webhook-event"), json("event"))],
      eventType: [header("x-webhook-event"), json("event")],
      forwardHeaders: ["x-webhook-event"],
    },
  },
  ploints: {
    build: hmacPreset({ header: "x-ploints-signature", algorithm: "sha256", encoding: "hex", prefix: "", signed: "{body}" }),
    defaults: { dedupe: [json("id")], eventType: [json("type")], forwardHeaders: ["x-ploints-signature"] },
  },
  poynt: {
    build: hmacPreset({ header: "poynt-webhook-signature", algorithm: "sha1", encoding: "base64", prefix: "", signed: "{body}" }),
    defaults: { dedupe: [json("id")], eventType: [json("eventType")], forwardHeaders: ["poynt-webhook-signature"] },
  },
  point: {
    signs: { timestamp: true },
    build: (s) => keyValueVerifier("point", s.secrets, s.toleranceSec),
    defaults: { dedupe: [], eventType: [json("eventType")], forwardHeaders: ["point-signature"] },
  },
  pinpoint: {
    build: hmacPreset({ header: "pinpoint-hmac-sha256", algorithm: "sha256", encoding: "base64", prefix: "", signed: "{body}" }),
    defaults: { dedupe: [], eventType: [json("event")], forwardHeaders: ["pinpoint-hmac-sha256"] },
  },
};
