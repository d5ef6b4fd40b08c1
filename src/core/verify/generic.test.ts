import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { InboundRequest, VerifySpec } from "../types.ts";
import { buildVerifier } from "./index.ts";

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = '{"name":"ë Ñ ú ✓"}\n';

function req(headers: Record<string, string>, body = BODY, url = "https://hooks.example.com/in/custom?x=1"): InboundRequest {
  return { method: "POST", url, headers: new Headers(headers), body: new TextEncoder().encode(body) };
}

describe("generic hmac scheme", () => {
  const spec: VerifySpec = {
    kind: "hmac",
    header: "x-signature",
    algorithm: "sha512",
    encoding: "base64",
    prefix: "v1=",
    signed: "{id}|{timestamp}|{url}|{body}",
    secrets: ["first", "second"],
    timestampHeader: "x-timestamp",
    idHeader: "x-id",
    toleranceSec: 60,
  };
  const sign = (secret: string, ts: number, body = BODY) =>
    "v1=" + createHmac("sha512", secret).update(`d_1|${ts}|https://hooks.example.com/in/custom?x=1|${body}`).digest("base64");
  const headers = (ts: number, secret = "second") => ({ "X-Signature": sign(secret, ts), "X-Timestamp": String(ts), "X-Id": "d_1" });
  const verify = buildVerifier(spec);

  test("a template over id, timestamp, url and body verifies with any listed secret", () => {
    expect(verify(req(headers(NOW_S)), NOW_MS)).toEqual({ ok: true });
    expect(verify(req(headers(NOW_S, "first")), NOW_MS)).toEqual({ ok: true });
  });

  test("a tampered body, wrong secret or missing prefix is rejected", () => {
    expect(verify(req(headers(NOW_S), BODY.trim()), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verify(req(headers(NOW_S, "third")), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    const unprefixed = { ...headers(NOW_S), "X-Signature": headers(NOW_S)["X-Signature"].slice(3) };
    expect(verify(req(unprefixed), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_signature" });
  });

  test("the timestamp window is checked in both directions, edges included", () => {
    expect(verify(req(headers(NOW_S - 60)), NOW_MS)).toEqual({ ok: true });
    expect(verify(req(headers(NOW_S + 60)), NOW_MS)).toEqual({ ok: true });
    expect(verify(req(headers(NOW_S - 61)), NOW_MS)).toMatchObject({ ok: false, reason: "stale_timestamp" });
    expect(verify(req(headers(NOW_S + 61)), NOW_MS)).toMatchObject({ ok: false, reason: "future_timestamp" });
  });

  test("missing signature, timestamp or id headers each have their own reason", () => {
    const { "X-Signature": _s, ...noSig } = headers(NOW_S);
    const { "X-Timestamp": _t, ...noTs } = headers(NOW_S);
    const { "X-Id": _i, ...noId } = headers(NOW_S);
    expect(verify(req(noSig), NOW_MS)).toMatchObject({ ok: false, reason: "missing_signature" });
    expect(verify(req(noTs), NOW_MS)).toMatchObject({ ok: false, reason: "missing_timestamp" });
    expect(verify(req(noId), NOW_MS)).toMatchObject({ ok: false, reason: "missing_id" });
  });

  test("the configured url replaces the request url in {url}", () => {
    const withUrl = buildVerifier({ ...spec, url: "https://hooks.example.com/in/custom?x=1" });
    expect(withUrl(req(headers(NOW_S), BODY, "http://internal:8080/in/custom"), NOW_MS)).toEqual({ ok: true });
  });

  test("a body-only hex template without prefix or timestamp verifies", () => {
    const plain = buildVerifier({ kind: "hmac", header: "x-sig", algorithm: "sha1", encoding: "hex", prefix: "", signed: "{body}", secrets: ["k"], toleranceSec: 300 });
    const sig = createHmac("sha1", "k").update(BODY).digest("hex");
    expect(plain(req({ "x-sig": sig }), NOW_MS)).toEqual({ ok: true });
  });

  test("a broken template throws when the verifier is built, not per request", () => {
    const base = { kind: "hmac", header: "x", algorithm: "sha256", encoding: "hex", prefix: "", secrets: ["k"], toleranceSec: 0 } satisfies Omit<VerifySpec & { kind: "hmac" }, "signed">;
    expect(() => buildVerifier({ ...base, signed: "{bodyy}" })).toThrow("unknown placeholder");
    expect(() => buildVerifier({ ...base, signed: "{timestamp}.{body}" })).toThrow("timestamp header");
    expect(() => buildVerifier({ ...base, signed: "{id}.{body}" })).toThrow("id header");
  });
});

describe("shared-secret scheme", () => {
  const verify = buildVerifier({ kind: "shared-secret", header: "x-token", secrets: ["alpha", "beta"] });

  test("any listed secret passes and anything else is rejected", () => {
    expect(verify(req({ "x-token": "beta" }), NOW_MS)).toEqual({ ok: true });
    expect(verify(req({ "x-token": "bet" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verify(req({ "x-token": "beta, beta" }), NOW_MS)).toMatchObject({ ok: false, reason: "bad_signature" });
    expect(verify(req({}), NOW_MS)).toMatchObject({ ok: false, reason: "missing_signature" });
  });
});

describe("basic scheme", () => {
  const verify = buildVerifier({ kind: "basic", username: "relay", secrets: ["pässword", "old"] });
  const auth = (s: string) => ({ Authorization: `Basic ${Buffer.from(s).toString("base64")}` });

  test("the right username with any listed password passes (UTF-8 passwords included)", () => {
    expect(verify(req(auth("relay:pässword")), NOW_MS)).toEqual({ ok: true });
    expect(verify(req(auth("relay:old")), NOW_MS)).toEqual({ ok: true });
  });

  test("a wrong username or password is rejected as bad_credentials", () => {
    expect(verify(req(auth("other:old")), NOW_MS)).toMatchObject({ ok: false, reason: "bad_credentials" });
    expect(verify(req(auth("relay:new")), NOW_MS)).toMatchObject({ ok: false, reason: "bad_credentials" });
  });

  test("missing or malformed credentials have their own reasons", () => {
    expect(verify(req({}), NOW_MS)).toMatchObject({ ok: false, reason: "missing_credentials" });
    expect(verify(req({ Authorization: "Bearer x" }), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_credentials" });
    expect(verify(req(auth("no-colon")), NOW_MS)).toMatchObject({ ok: false, reason: "malformed_credentials" });
  });
});

describe("none scheme", () => {
  test("every request passes", () => {
    expect(buildVerifier({ kind: "none" })(req({}), NOW_MS)).toEqual({ ok: true });
  });
});

describe("generic hmac: providers written by config alone", () => {
  const configured = async (verify: string) => {
    const { loadConfig } = await import("../../config/load.ts");
    const loaded = loadConfig(`[[sources]]\nname = "p"\nverify = ${verify}\n`, { env: {}, baseDir: "/" });
    if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
    return buildVerifier(loaded.config.sources[0]!.verify);
  };

  test("Twitch EventSub: message id + RFC 3339 timestamp (nanoseconds) + body, sha256= hex, 10 minutes", async () => {
    const verify = await configured(`{ scheme = "hmac", header = "Twitch-Eventsub-Message-Signature", prefix = "sha256=",
      signed = "{id}{timestamp}{body}", id_header = "Twitch-Eventsub-Message-Id", timestamp_header = "Twitch-Eventsub-Message-Timestamp",
      timestamp_format = "rfc3339", tolerance = "10m", secret = "twitch-secret-123" }`);
    // As Twitch's docs build it: HMAC-SHA256(secret, message_id + timestamp + body), hex, prefixed.
    const signed = (ts: string) => ({
      "Twitch-Eventsub-Message-Id": "e76c6bd4-55c9-4987-8304-da1588d8988b",
      "Twitch-Eventsub-Message-Timestamp": ts,
      "Twitch-Eventsub-Message-Signature": `sha256=${createHmac("sha256", "twitch-secret-123").update(`e76c6bd4-55c9-4987-8304-da1588d8988b${ts}${BODY}`).digest("hex")}`,
    });
    const at = (offsetMs: number) => new Date(NOW_MS + offsetMs).toISOString().replace("Z", "123456Z");
    expect(verify(req(signed(at(-30_000))), NOW_MS)).toEqual({ ok: true });
    expect(verify(req(signed(at(-11 * 60_000))), NOW_MS)).toMatchObject({ ok: false, reason: "stale_timestamp", message: expect.stringContaining("is 660 s old") });
    expect(verify(req(signed(String(NOW_S))), NOW_MS)).toMatchObject({ ok: false, reason: "bad_timestamp", message: expect.stringContaining("is not an RFC 3339 time") });
  });

  test("a millisecond timestamp header, and a base64 key used as its decoded bytes", async () => {
    const key = Buffer.from("0123456789abcdef0123456789abcdef");
    const verify = await configured(`{ scheme = "hmac", header = "X-Sig", signed = "{timestamp}.{body}", timestamp_header = "X-Ts",
      timestamp_format = "unix_ms", secret_encoding = "base64", secret = "whsec_${key.toString("base64")}" }`);
    const sig = (ts: number) => createHmac("sha256", key).update(`${ts}.${BODY}`).digest("hex");
    expect(verify(req({ "X-Sig": sig(NOW_MS - 1000), "X-Ts": String(NOW_MS - 1000) }), NOW_MS)).toEqual({ ok: true });
    // Seconds where milliseconds are expected: said.
    expect(verify(req({ "X-Sig": sig(NOW_S), "X-Ts": String(NOW_S) }), NOW_MS)).toMatchObject({ ok: false, message: expect.stringContaining("it looks like seconds") });
  });

  test("a secret that is not in its secret_encoding is a config problem, naming the key and never the value", async () => {
    const { loadConfig } = await import("../../config/load.ts");
    const loaded = loadConfig(`[[sources]]\nname = "p"\nverify = { scheme = "hmac", header = "X-Sig", secret_encoding = "hex", secret = ["abcd", "not-hex-SECRET"] }\n`, { env: {}, baseDir: "/" });
    expect(loaded.ok).toBe(false);
    expect(loaded.ok ? [] : loaded.problems).toEqual(["sources[0].verify.secret[1]: is not hex (pairs of 0-9, a-f), as secret_encoding says"]);
  });
});
