/**
 * Robustness: random and mutated requests never throw and never verify.
 * Seeded, so a failure reproduces; iterations are per verifier.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { PRESETS, type InboundRequest, type PresetName, type VerifySpec } from "../types.ts";
import { buildVerifier } from "./index.ts";

const ITERATIONS = 2_000;
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const SECRET = "whsec_" + Buffer.from("fuzz-secret-fuzz-secret-32-bytes").toString("base64");
const URL_ = "https://hooks.example.com/in/fuzz?x=1";

/** mulberry32: a tiny seeded PRNG. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TOKENS = ["t=", "ts=", "v1=", "h1=", "v0=", "v1,", "v1a,", "sha256=", "sha1=", "Basic ", ",", ";", " ", ", ", "=", "whsec_", "-", "."];
const HEADER_NAMES = [
  "webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature", "stripe-signature",
  "x-hub-signature-256", "x-hub-signature", "x-gitlab-token", "x-shopify-hmac-sha256", "shopify-hmac-sha256", "x-slack-signature",
  "x-slack-request-timestamp", "x-twilio-signature", "paddle-signature", "x-square-hmacsha256-signature", "x-square-signature",
  "x-webhook-secret", "x-ploints-signature", "poynt-webhook-signature", "point-signature", "pinpoint-hmac-sha256",
  "authorization", "content-type", "x-signature", "x-timestamp", "x-id", "x-token",
];

function fuzzer(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => pick([...alphabet])).join("");
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x20 + Math.floor(rand() * 95))).join("");
  const piece = (): string =>
    pick([
      () => pick(TOKENS),
      () => chars("0123456789abcdef", pick([40, 64, 128, 7])),
      () => Buffer.from(chars(ALNUM, pick([20, 32, 64]))).toString("base64"),
      () => String(NOW_S + Math.floor(rand() * 600) - 300),
      () => String(NOW_MS),
      () => printable(Math.floor(rand() * 40)),
    ])();
  const value = () => Array.from({ length: 1 + Math.floor(rand() * 6) }, piece).join("");
  const body = (): string =>
    pick([
      () => printable(Math.floor(rand() * 200)),
      () => `{"signature":{"timestamp":"${NOW_S}","token":"${value()}","signature":"${value()}"}}`,
      () => `timestamp=${NOW_S}&token=${encodeURIComponent(value())}&signature=${encodeURIComponent(value())}`,
      () => '{"type":"url_verification","challenge":"x"}',
      () => "",
    ])();
  const mutate = (s: string): string => {
    const i = Math.floor(rand() * s.length);
    const kind = rand();
    if (kind < 0.5) {
      const replacement = pick([...ALNUM.replace(s[i] ?? "", "")]);
      return s.slice(0, i) + replacement + s.slice(i + 1);
    }
    if (kind < 0.75) return s.slice(0, i) + pick([...ALNUM]) + s.slice(i);
    return s.slice(0, Math.min(i, s.length - 1));
  };
  return { pick, value, body, mutate, rand };
}

/** A correctly signed baseline per preset, and which parts are covered by the signature. */
interface Baseline {
  headers: Record<string, string>;
  body: string;
  /** Headers whose mutation must break verification. */
  signedHeaders: string[];
  /** False where the body is not (fully, byte-wise) covered: Points, Twilio forms, Mailgun. */
  bodyBound: boolean;
}

const mac = (alg: string, key: string | Buffer, data: string, enc: "hex" | "base64") => createHmac(alg, key).update(data).digest(enc);
const swKey = Buffer.from(SECRET.slice(6), "base64");
const BODY = '{"id":"evt_1","name":"ë ✓"}\n';

function baseline(preset: PresetName): Baseline {
  const std = (p: string): Baseline => ({
    headers: { [`${p}-id`]: "msg_1", [`${p}-timestamp`]: String(NOW_S), [`${p}-signature`]: `v1,${mac("sha256", swKey, `msg_1.${NOW_S}.${BODY}`, "base64")}` },
    body: BODY,
    signedHeaders: [`${p}-id`, `${p}-timestamp`, `${p}-signature`],
    bodyBound: true,
  });
  const one = (header: string, value: string, bodyBound = true): Baseline => ({ headers: { [header]: value }, body: BODY, signedHeaders: [header], bodyBound });
  switch (preset) {
    case "standard-webhooks":
    case "gitlab":
      return std("webhook");
    case "svix":
      return std("svix");
    case "stripe":
      return one("stripe-signature", `t=${NOW_S},v1=${mac("sha256", SECRET, `${NOW_S}.${BODY}`, "hex")}`);
    case "paddle":
      return one("paddle-signature", `ts=${NOW_S};h1=${mac("sha256", SECRET, `${NOW_S}:${BODY}`, "hex")}`);
    case "point":
      return one("point-signature", `t=${NOW_MS},v1=${mac("sha256", SECRET, `${NOW_MS}.${BODY}`, "hex")}`);
    case "github":
      return one("x-hub-signature-256", `sha256=${mac("sha256", SECRET, BODY, "hex")}`);
    case "shopify":
      return one("x-shopify-hmac-sha256", mac("sha256", SECRET, BODY, "base64"));
    case "slack":
      return {
        headers: { "x-slack-signature": `v0=${mac("sha256", SECRET, `v0:${NOW_S}:${BODY}`, "hex")}`, "x-slack-request-timestamp": String(NOW_S) },
        body: BODY,
        signedHeaders: ["x-slack-signature", "x-slack-request-timestamp"],
        bodyBound: true,
      };
    case "twilio": {
      const body = "Body=hi&From=%2B1";
      return { headers: { "x-twilio-signature": mac("sha1", SECRET, `${URL_}BodyhiFrom+1`, "base64") }, body, signedHeaders: ["x-twilio-signature"], bodyBound: false };
    }
    case "square":
      return one("x-square-hmacsha256-signature", mac("sha256", SECRET, URL_ + BODY, "base64"));
    case "mailgun": {
      const block = { timestamp: String(NOW_S), token: "tok_abc", signature: mac("sha256", SECRET, `${NOW_S}tok_abc`, "hex") };
      return { headers: {}, body: JSON.stringify({ signature: block }), signedHeaders: [], bodyBound: false };
    }
    case "points":
      return one("x-webhook-secret", SECRET, false);
    case "ploints":
      return one("x-ploints-signature", mac("sha256", SECRET, BODY, "hex"));
    case "poynt":
      return one("poynt-webhook-signature", mac("sha1", SECRET, BODY, "base64"));
    case "pinpoint":
      return one("pinpoint-hmac-sha256", mac("sha256", SECRET, BODY, "base64"));
  }
}

const GENERIC: Record<string, { spec: VerifySpec; baseline: Baseline }> = {
  "generic hmac": {
    spec: {
      kind: "hmac", header: "x-signature", algorithm: "sha512", encoding: "base64", prefix: "v1=", signed: "{id}.{timestamp}.{url}.{body}",
      secrets: [SECRET], timestampHeader: "x-timestamp", idHeader: "x-id", toleranceSec: 300,
    },
    baseline: {
      headers: { "x-signature": `v1=${mac("sha512", SECRET, `i1.${NOW_S}.${URL_}.${BODY}`, "base64")}`, "x-timestamp": String(NOW_S), "x-id": "i1" },
      body: BODY,
      signedHeaders: ["x-signature", "x-timestamp", "x-id"],
      bodyBound: true,
    },
  },
  "shared-secret": {
    spec: { kind: "shared-secret", header: "x-token", secrets: [SECRET] },
    baseline: { headers: { "x-token": SECRET }, body: BODY, signedHeaders: ["x-token"], bodyBound: false },
  },
  basic: {
    spec: { kind: "basic", username: "relay", secrets: [SECRET] },
    baseline: { headers: { authorization: `Basic ${Buffer.from(`relay:${SECRET}`).toString("base64")}` }, body: BODY, signedHeaders: ["authorization"], bodyBound: false },
  },
};

const CASES: [string, VerifySpec, Baseline][] = [
  ...PRESETS.map((p): [string, VerifySpec, Baseline] => [`preset ${p}`, { kind: "preset", preset: p, secrets: [SECRET], toleranceSec: 300 }, baseline(p)]),
  ...Object.entries(GENERIC).map(([name, c]): [string, VerifySpec, Baseline] => [name, c.spec, c.baseline]),
];

const toRequest = (headers: Record<string, string> | Headers, body: string | Uint8Array, url = URL_): InboundRequest => ({
  method: "POST",
  url,
  headers: new Headers(headers),
  body: typeof body === "string" ? new TextEncoder().encode(body) : body,
});

describe("fuzzing every verifier", () => {
  CASES.forEach(([name, spec, base], index) => {
    test(`${name}: the unmodified baseline verifies, and ${ITERATIONS} random or mutated requests never throw and never verify`, () => {
      const verify = buildVerifier(spec);
      expect(verify(toRequest(base.headers, base.body), NOW_MS)).toEqual({ ok: true });
      const f = fuzzer(prng(1000 + index));
      for (let i = 0; i < ITERATIONS; i++) {
        let req: InboundRequest;
        const mode = f.rand();
        if (mode < 0.4) {
          const headers: Record<string, string> = {};
          for (const h of HEADER_NAMES) if (f.rand() < 0.5) headers[h] = f.value();
          req = toRequest(headers, f.body(), f.pick([URL_, `https://x/${f.value()}`, f.value()]));
        } else if (mode < 0.8 && base.signedHeaders.length > 0) {
          const target = f.pick(base.signedHeaders);
          const original = base.headers[target] ?? "";
          // The auth scheme name is case-insensitive by RFC, so only the credentials are mutated.
          const keep = target === "authorization" ? "Basic ".length : 0;
          req = toRequest({ ...base.headers, [target]: original.slice(0, keep) + f.mutate(original.slice(keep)) }, base.body);
        } else if (base.bodyBound) {
          const bytes = new TextEncoder().encode(base.body);
          const at = Math.floor(f.rand() * bytes.length);
          bytes[at] = (bytes[at] ?? 0) ^ (1 + Math.floor(f.rand() * 255));
          req = toRequest(base.headers, bytes);
        } else if (name === "preset mailgun") {
          const parsed = JSON.parse(base.body) as { signature: Record<string, string> };
          const field = f.pick(["timestamp", "token", "signature"]);
          parsed.signature[field] = f.mutate(parsed.signature[field] ?? "");
          req = toRequest(base.headers, JSON.stringify(parsed));
        } else {
          req = toRequest({ ...base.headers, ...Object.fromEntries(base.signedHeaders.map((h) => [h, f.value()])) }, f.body());
        }
        let result;
        try {
          result = verify(req, NOW_MS);
        } catch (error) {
          throw new Error(`${name} threw on iteration ${i}: ${String(error)}`);
        }
        if (result.ok) throw new Error(`${name} verified a fuzzed request on iteration ${i}: ${JSON.stringify([...req.headers])}`);
      }
    });
  });
});
