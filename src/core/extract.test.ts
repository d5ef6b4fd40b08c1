import { expect, test } from "bun:test";
import { bodyHashKey, dedupeKeyOf, eventTypeOf, makeFieldReader, type ExtractContext } from "./extract.ts";

function ctx(body: string, headers: Record<string, string> = {}, contentType = "application/json"): ExtractContext {
  return { headers: new Headers(headers), query: new URLSearchParams(), body: new TextEncoder().encode(body), contentType };
}

test("a composite key joins every part, as the Points seed asks", () => {
  const c = ctx('{"order":{"id":"550e"},"event":"approved"}', { "X-Webhook-Event": "approved" });
  const key = dedupeKeyOf(
    [{ kind: "json", path: ["order", "id"] }, { kind: "header", name: "x-webhook-event" }],
    c,
    makeFieldReader(c),
  );
  expect(key).toBe('["550e","approved"]');
});

test("malformed JSON falls back to the body hash", () => {
  const c = ctx('{"id": "evt_1",');
  expect(dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c))).toBe(bodyHashKey(c.body));
});

test("a missing part falls back to the body hash", () => {
  const c = ctx('{"other": 1}');
  expect(dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c))).toMatch(/^sha256:[0-9a-f]{64}$/);
});

test("form bodies are read as flat fields", () => {
  const c = ctx("MessageSid=SM1&Body=hi", {}, "application/x-www-form-urlencoded");
  expect(dedupeKeyOf([{ kind: "json", path: ["MessageSid"] }], c, makeFieldReader(c))).toBe("SM1");
});

test("the event type is the first ref that has a value", () => {
  const c = ctx('{"type":"points.earned"}', { "x-event": "" });
  const t = eventTypeOf([{ kind: "header", name: "x-event" }, { kind: "json", path: ["type"] }], c, makeFieldReader(c));
  expect(t).toBe("points.earned");
});

test("a JSON body labelled as form data is still read as JSON", () => {
  const c = ctx('{"id":"evt_1","type":"points.earned"}', {}, "application/x-www-form-urlencoded");
  expect(dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c))).toBe("evt_1");
  expect(eventTypeOf([{ kind: "json", path: ["type"] }], c, makeFieldReader(c))).toBe("points.earned");
});

test("control characters in an event type become U+FFFD; other characters stay as they are", () => {
  const c = ctx(JSON.stringify({ type: "inj\u0000nul\r\nX: y✓" }));
  expect(eventTypeOf([{ kind: "json", path: ["type"] }], c, makeFieldReader(c))).toBe("inj\ufffdnul\ufffd\ufffdX: y✓");
  // C1 controls (an 8-bit terminal escape) likewise; a bidirectional override is the provider's text (the UI marks it, the log escapes it).
  const c1 = ctx(JSON.stringify({ type: "x\u009b31mRED\u202eevil" }));
  expect(eventTypeOf([{ kind: "json", path: ["type"] }], c1, makeFieldReader(c1))).toBe("x\ufffd31mRED\u202eevil");
});

test("an event type cut at its limit never keeps half of an emoji", () => {
  const c = ctx(JSON.stringify({ type: `${"a".repeat(199)}😀tail` }));
  const t = eventTypeOf([{ kind: "json", path: ["type"] }], c, makeFieldReader(c))!;
  expect(t).toBe("a".repeat(199));
  expect(t).not.toContain("\ufffd");
});

test("an integer id past 2^53 is keyed by the digits sent: two ids one double apart stay two keys", () => {
  const key = (body: string) => {
    const c = ctx(body);
    return dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c));
  };
  expect(key('{"id":12345678901234567890}')).toBe("12345678901234567890");
  expect(key('{"id":12345678901234567891}')).toBe("12345678901234567891");
  expect(key('{"id":9007199254740993}')).not.toBe(key('{"id":9007199254740992}'));
  // Within a double's exact range, and non-integers, as before.
  expect(key('{"id":777}')).toBe("777");
  expect(key('{"id":1.5}')).toBe("1.5");
  const composite = ctx('{"order":{"id":18446744073709551615},"event":"paid"}');
  expect(dedupeKeyOf([{ kind: "json", path: ["order", "id"] }, { kind: "json", path: ["event"] }], composite, makeFieldReader(composite))).toBe(
    '["18446744073709551615","paid"]',
  );
});

test("a key with a lone surrogate is kept apart, written as JSON escapes it, from one with a real U+FFFD", () => {
  const key = (body: string) => {
    const c = ctx(body);
    return dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c));
  };
  const lone = key('{"id":"sur-\\ud800"}');
  expect(lone.isWellFormed()).toBe(true);
  expect(lone).toBe('"sur-\\ud800"');
  expect(key('{"id":"sur-\\ufffd"}')).toBe("sur-\ufffd");
});

test("a key with a NUL is stored escaped, apart from the key cut at the NUL (stored text is read back only up to a NUL)", () => {
  const key = (body: string) => {
    const c = ctx(body);
    return dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c));
  };
  expect(key('{"id":"a\\u0000one"}')).toBe('"a\\u0000one"');
  expect(key('{"id":"a\\u0000one"}')).not.toBe(key('{"id":"a\\u0000two"}'));
  expect(key('{"id":"a"}')).toBe("a");
});

test("a provider's id that spells a key the relay derives (a body hash, an escaped key, a long key's hash) is a key of its own", () => {
  const key = (body: string) => {
    const c = ctx(body);
    return dedupeKeyOf([{ kind: "json", path: ["id"] }], c, makeFieldReader(c));
  };
  // A body with no id is keyed by its hash; an id that is that very text is another event.
  const noId = key("not json at all 42");
  expect(key(JSON.stringify({ id: noId, type: "hashlike" }))).not.toBe(noId);
  // An id with a NUL is stored escaped; an id that is the escaped text is another event.
  const escaped = key('{"id":"a\u0000b"}');
  expect(key(JSON.stringify({ id: escaped }))).not.toBe(escaped);
  // A long id is stored as its hash; so is an id that looks like one, and it is not the long one's.
  const long = key(JSON.stringify({ id: "x".repeat(300) }));
  expect(long).toMatch(/^key-sha256:/);
  expect(key(JSON.stringify({ id: long }))).not.toBe(long);
  // Ordinary ids are kept as sent, and so are ids that only begin like a derived key.
  expect(key('{"id":"evt_1"}')).toBe("evt_1");
  expect(key('{"id":"sha-256-ish"}')).toBe("sha-256-ish");
  expect(key('{"id":"sha256:abc123"}')).toBe("sha256:abc123");
  expect(key('{"id":"\\"quoted\\" start"}')).toBe('"quoted" start');
});

test("a type or key read from a header sent in UTF-8 is its text, not its bytes one character each", () => {
  const asReceived = (text: string) => Buffer.from(text, "utf8").toString("latin1"); // as Bun reads a header value
  const c = ctx("{}", { "x-github-event": asReceived("café✓"), "x-github-delivery": asReceived("dlv-日本-1") });
  const fields = makeFieldReader(c);
  expect(eventTypeOf([{ kind: "header", name: "x-github-event" }], c, fields)).toBe("café✓");
  expect(dedupeKeyOf([{ kind: "header", name: "x-github-delivery" }], c, fields)).toBe("dlv-日本-1");
  // Bytes that are not UTF-8 read as they are (latin-1).
  const latin = ctx("{}", { "x-github-event": "m\u00fcnchen" });
  expect(eventTypeOf([{ kind: "header", name: "x-github-event" }], latin, makeFieldReader(latin))).toBe("münchen");
});

test("Mailgun's key is the signature block's token, in a JSON body or a legacy form, and one token is one key either way", async () => {
  const { presetDefaults } = await import("./verify/index.ts");
  const read = (body: string, contentType: string) => {
    const c = ctx(body, {}, contentType);
    const fields = makeFieldReader(c);
    return { key: dedupeKeyOf(presetDefaults("mailgun").dedupe, c, fields), type: eventTypeOf(presetDefaults("mailgun").eventType, c, fields) };
  };
  const json = JSON.stringify({ signature: { timestamp: "1", token: "tok_1", signature: "ab" }, "event-data": { event: "delivered" } });
  expect(read(json, "application/json")).toEqual({ key: "tok_1", type: "delivered" });
  const form = "timestamp=1&token=tok_1&signature=ab&event=complained&recipient=mallory%40evil";
  expect(read(form, "application/x-www-form-urlencoded")).toEqual({ key: "tok_1", type: "complained" });
  const part = (name: string, value: string) => `--b0\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const multipart = `${part("timestamp", "1")}${part("token", "tok_1")}${part("signature", "ab")}${part("event", "stored")}--b0--\r\n`;
  expect(read(multipart, "multipart/form-data; boundary=b0")).toEqual({ key: "tok_1", type: "stored" });
});

test("a form's repeated field counts by its first value, the one a signature check reads", () => {
  const c = ctx("event=first&event=second&__proto__=x", {}, "application/x-www-form-urlencoded");
  const fields = makeFieldReader(c);
  expect(eventTypeOf([{ kind: "json", path: ["event"] }], c, fields)).toBe("first");
  expect(eventTypeOf([{ kind: "json", path: ["__proto__"] }], c, fields)).toBe("x");
});

test("Shopify's key is its event id when sent, else its webhook id, with or without the X- prefix; Svix's is svix-id, else webhook-id", async () => {
  const { presetDefaults } = await import("./verify/index.ts");
  const key = (preset: "shopify" | "svix", headers: Record<string, string>) => {
    const c = ctx('{"same":"body"}', headers);
    return dedupeKeyOf(presetDefaults(preset).dedupe, c, makeFieldReader(c));
  };
  expect(key("shopify", { "x-shopify-event-id": "e1", "x-shopify-webhook-id": "w1" })).toBe("e1");
  expect(key("shopify", { "x-shopify-webhook-id": "w1" })).toBe("w1");
  expect(key("shopify", { "shopify-webhook-id": "w2" })).toBe("w2");
  expect(key("shopify", {})).toMatch(/^sha256:/);
  expect(key("svix", { "svix-id": "msg_1", "webhook-id": "msg_2" })).toBe("msg_1");
  expect(key("svix", { "webhook-id": "msg_2" })).toBe("msg_2");
});
