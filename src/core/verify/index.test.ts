import { describe, expect, test } from "bun:test";
import { PRESETS, type InboundRequest, type VerifySpec } from "../types.ts";
import { answerHandshake, buildVerifier, credentialHeaders, presetDefaults } from "./index.ts";

const slack: VerifySpec = { kind: "preset", preset: "slack", secrets: ["s"], toleranceSec: 300 };
const req = (body: string): InboundRequest => ({
  method: "POST",
  url: "https://hooks.example.com/in/slack",
  headers: new Headers({ "content-type": "application/json" }),
  body: new TextEncoder().encode(body),
});

describe("presetDefaults", () => {
  test("every preset has defaults with lower-cased forward headers", () => {
    for (const preset of PRESETS) {
      const d = presetDefaults(preset);
      expect(d.forwardHeaders.every((h) => h === h.toLowerCase())).toBe(true);
    }
  });

  test("presets dedupe on the provider's natural id", () => {
    expect(presetDefaults("standard-webhooks").dedupe).toEqual([{ kind: "header", name: "webhook-id" }]);
    expect(presetDefaults("stripe")).toMatchObject({ dedupe: [{ kind: "json", path: ["id"] }], eventType: [{ kind: "json", path: ["type"] }] });
    expect(presetDefaults("github")).toMatchObject({ dedupe: [{ kind: "header", name: "x-github-delivery" }], eventType: [{ kind: "header", name: "x-github-event" }] });
    expect(presetDefaults("gitlab").dedupe).toEqual([{ kind: "header", name: "idempotency-key" }]);
    expect(presetDefaults("shopify").dedupe).toEqual([
      {
        kind: "first",
        refs: [
          { kind: "header", name: "x-shopify-event-id", alias: "shopify-event-id" },
          { kind: "header", name: "x-shopify-webhook-id", alias: "shopify-webhook-id" },
        ],
      },
    ]);
    expect(presetDefaults("svix").dedupe).toEqual([{ kind: "first", refs: [{ kind: "header", name: "svix-id" }, { kind: "header", name: "webhook-id" }] }]);
    expect(presetDefaults("slack").eventType).toEqual([{ kind: "json", path: ["event", "type"] }, { kind: "json", path: ["type"] }]);
    expect(presetDefaults("mailgun").dedupe).toEqual([{ kind: "first", refs: [{ kind: "json", path: ["signature", "token"] }, { kind: "json", path: ["token"] }] }]);
    expect(presetDefaults("points").dedupe).toEqual([
      { kind: "json", path: ["order", "id"] },
      { kind: "first", refs: [{ kind: "header", name: "x-webhook-event" }, { kind: "json", path: ["event"] }] },
    ]);
    expect(presetDefaults("point").dedupe).toEqual([]);
    expect(presetDefaults("twilio").dedupe).toEqual([]);
  });

  test("bearer secrets are never among the forwarded headers", () => {
    expect(presetDefaults("gitlab").forwardHeaders).not.toContain("x-gitlab-token");
    expect(presetDefaults("points").forwardHeaders).not.toContain("x-webhook-secret");
  });

  test("callers get a copy they may change without affecting the table", () => {
    presetDefaults("stripe").dedupe.push({ kind: "json", path: ["x"] });
    expect(presetDefaults("stripe").dedupe).toHaveLength(1);
  });
});

describe("answerHandshake", () => {
  test("Slack url_verification is answered with the challenge as plain text", () => {
    expect(answerHandshake(slack, req('{"token":"t","challenge":"x","type":"url_verification"}'))).toEqual({
      status: 200,
      contentType: "text/plain",
      body: "x",
    });
  });

  test("ordinary Slack events, form bodies and other presets get no handshake", () => {
    expect(answerHandshake(slack, req('{"type":"event_callback","event":{"type":"message"}}'))).toBeNull();
    expect(answerHandshake(slack, req("command=%2Fdeploy&text=x"))).toBeNull();
    expect(answerHandshake(slack, req('{"type":"url_verification","challenge":42}'))).toBeNull();
    const github: VerifySpec = { kind: "preset", preset: "github", secrets: ["s"], toleranceSec: 300 };
    expect(answerHandshake(github, req('{"type":"url_verification","challenge":"x"}'))).toBeNull();
  });
});

describe("credentialHeaders", () => {
  const secret = "plain-secret-value";
  // Every header name a preset reads or forwards, plus the usual bearer names.
  const candidates = [...new Set([...PRESETS.flatMap((p) => presetDefaults(p).forwardHeaders), "x-gitlab-token", "x-webhook-secret", "authorization"])];

  test("a preset that accepts its secret as a plain header value declares that header", () => {
    for (const preset of PRESETS) {
      const verify = buildVerifier({ kind: "preset", preset, secrets: [secret], toleranceSec: 300 });
      const accepting = candidates.filter((name) => verify({ ...req("{}"), headers: new Headers({ [name]: secret }) }, 0).ok);
      expect({ preset, headers: credentialHeaders({ kind: "preset", preset, secrets: [secret], toleranceSec: 300 }) }).toEqual({ preset, headers: accepting });
    }
  });

  test("generic schemes name their secret-bearing header, lower-cased; signature schemes none", () => {
    expect(credentialHeaders({ kind: "shared-secret", header: "X-Hook-Key", secrets: [secret] })).toEqual(["x-hook-key"]);
    expect(credentialHeaders({ kind: "basic", username: "u", secrets: [secret] })).toEqual(["authorization"]);
    const hmac: VerifySpec = { kind: "hmac", header: "x-sig", algorithm: "sha256", encoding: "hex", prefix: "", signed: "{body}", secrets: [secret], toleranceSec: 300 };
    expect(credentialHeaders(hmac)).toEqual([]);
    expect(credentialHeaders({ kind: "none" })).toEqual([]);
  });
});
