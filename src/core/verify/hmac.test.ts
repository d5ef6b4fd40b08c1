import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { bytesEqual, checkSignatures, decodeKey, decodeSignature, secretsEqual } from "./hmac.ts";
import { checkTimestamp, parseTimestamp } from "./timestamp.ts";

describe("decodeSignature", () => {
  test("accepts lowercase hex and rejects uppercase, odd-length or junk hex", () => {
    expect(decodeSignature("hex", "0aff")).toEqual(Buffer.from([0x0a, 0xff]));
    expect(decodeSignature("hex", "0AFF")).toBeNull();
    expect(decodeSignature("hex", "0af")).toBeNull();
    expect(decodeSignature("hex", "0afz")).toBeNull();
    expect(decodeSignature("hex", "")).toBeNull();
  });

  test("accepts standard padded base64 and rejects base64url, missing padding and non-canonical bits", () => {
    expect(decodeSignature("base64", "+/8=")).toEqual(Buffer.from([0xfb, 0xff]));
    expect(decodeSignature("base64", "-_8=")).toBeNull();
    expect(decodeSignature("base64", "+/8")).toBeNull();
    expect(decodeSignature("base64", "+/9=")).toBeNull(); // same bytes, non-zero trailing bits
    expect(decodeSignature("base64", " +/8=")).toBeNull();
  });
});

describe("constant-time comparisons", () => {
  test("bytesEqual returns false instead of throwing on a length mismatch", () => {
    expect(bytesEqual(Buffer.from("abc"), Buffer.from("ab"))).toBe(false);
    expect(bytesEqual(Buffer.from("abc"), Buffer.from("abc"))).toBe(true);
  });

  test("secretsEqual compares strings of any length", () => {
    expect(secretsEqual("s3cret", "s3cret")).toBe(true);
    expect(secretsEqual("s3cret", "s3cret-longer")).toBe(false);
    expect(secretsEqual("", "x")).toBe(false);
  });
});

describe("checkSignatures", () => {
  const key = Buffer.from("k");
  const good = createHmac("sha512", key).update("a").update("b").digest("base64");

  test("passes when any candidate matches and the content is made of several parts", () => {
    const result = checkSignatures({ algorithm: "sha512", encoding: "base64", keys: [key], contents: [["a", Buffer.from("b")]], candidates: ["AAAA", good], label: "X-Sig" });
    expect(result).toEqual({ ok: true });
  });

  test("reports malformed_signature when no candidate decodes and bad_signature when none matches", () => {
    const base = { algorithm: "sha512", encoding: "base64", keys: [key], contents: [["ab"]], label: "X-Sig" } as const;
    expect(checkSignatures({ ...base, candidates: ["%%%"] })).toMatchObject({ ok: false, reason: "malformed_signature" });
    expect(checkSignatures({ ...base, candidates: ["AAAA"] })).toMatchObject({ ok: false, reason: "bad_signature" });
  });
});

describe("timestamps", () => {
  test("parse only plain non-negative integers", () => {
    expect(parseTimestamp("1700000000")).toBe(1700000000);
    for (const bad of ["", "-1", "1.5", "1e9", " 1", "0x10", "NaN", "+1", "1234567890123456"]) {
      expect(parseTimestamp(bad)).toBeNull();
    }
  });

  test("a missing header and an unparsable one have distinct reasons", () => {
    const rule = { unit: "s" } as const;
    expect(checkTimestamp(null, 0, 300, rule)).toMatchObject({ ok: false, reason: "missing_timestamp" });
    expect(checkTimestamp("abc", 0, 300, rule)).toMatchObject({ ok: false, reason: "bad_timestamp" });
  });

  test("a seconds timestamp sent in milliseconds is rejected as from the future", () => {
    const nowMs = 1_700_000_000_000;
    expect(checkTimestamp(String(nowMs), nowMs, 300, { unit: "s" })).toMatchObject({
      ok: false,
      reason: "future_timestamp",
    });
  });
});

test("decodeKey reads an encoded secret whole or not at all: whitespace at its ends aside, never what a lenient decoder would skip", () => {
  const key = Buffer.from("0123456789abcdef");
  expect(decodeKey(`whsec_${key.toString("base64")}`, "base64")).toEqual(new Uint8Array(key));
  expect(decodeKey(`${key.toString("base64")}\n`, "base64")).toEqual(new Uint8Array(key));
  expect(decodeKey(key.toString("base64").replace(/=+$/, ""), "base64")).toEqual(new Uint8Array(key));
  expect(decodeKey("whsec_abc$def", "base64")).toBeNull();
  expect(decodeKey("whsec_YWJj-_8", "base64")).toBeNull(); // base64url
  expect(decodeKey(key.toString("hex"), "hex")).toEqual(new Uint8Array(key));
  expect(decodeKey("abc", "hex")).toBeNull();
  expect(decodeKey("", "base64")).toBeNull();
});
