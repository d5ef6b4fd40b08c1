import { describe, expect, test } from "bun:test";
import type { TargetConfig } from "../config/types.ts";
import type { TargetStats } from "../store/admin-stats.ts";
import { eventJson, LIST_VALUE_MAX_CHARS, rejectionDetailJson, rejectionJson, targetJson } from "./admin-views.ts";

const event = { id: "evt_01", source: "s", eventType: "t", dedupeKey: "k", receivedAt: 0, duplicates: 0, status: "delivered" as const, targets: [], erasedAt: null };
const rejection = {
  id: "rej_01", source: "s", receivedAt: 0, reason: "bad_signature", message: "signature does not match", method: "POST", path: "/in/s",
  headers: [["x-short", "v"]] as [string, string][], bodyExcerpt: null, remoteAddr: null, erasedAt: null,
};

describe("list entries", () => {
  test("a value at the limit is kept whole and the entry has no truncated field", () => {
    const entry = eventJson({ ...event, dedupeKey: "k".repeat(LIST_VALUE_MAX_CHARS) });
    expect(entry.dedupeKey).toBe("k".repeat(LIST_VALUE_MAX_CHARS));
    expect(entry).not.toHaveProperty("truncated");
  });

  test("a longer value is cut to the limit with an ellipsis, and truncated names it", () => {
    const entry = eventJson({ ...event, dedupeKey: "k".repeat(1_000_000), eventType: "t".repeat(300) });
    expect(entry.dedupeKey).toBe(`${"k".repeat(LIST_VALUE_MAX_CHARS - 1)}…`);
    expect(entry.eventType).toBe(`${"t".repeat(LIST_VALUE_MAX_CHARS - 1)}…`);
    expect(entry.truncated).toEqual(["dedupeKey", "eventType"]);
  });

  test("a cut never splits a surrogate pair", () => {
    const key = "k".repeat(LIST_VALUE_MAX_CHARS - 2) + "😀".repeat(10);
    const cut = eventJson({ ...event, dedupeKey: key }).dedupeKey;
    expect(cut).toBe(`${"k".repeat(LIST_VALUE_MAX_CHARS - 2)}…`);
    expect(cut.isWellFormed()).toBe(true);
  });

  test("a rejection's long header values are cut in the list entry and whole in its detail", () => {
    const long = { ...rejection, headers: [...rejection.headers, ["x-long", "v".repeat(10_000)]] as [string, string][] };
    const entry = rejectionJson(long);
    expect(entry.headers).toEqual([["x-short", "v"], ["x-long", `${"v".repeat(LIST_VALUE_MAX_CHARS - 1)}…`]]);
    expect(entry.truncated).toEqual(["headers"]);
    expect(rejectionDetailJson(long).headers[1]![1]).toHaveLength(10_000);
    expect(rejectionJson(rejection)).not.toHaveProperty("truncated");
  });

  test("a target's long last error and disabled reason are cut", () => {
    const target = { name: "t", kind: "push", url: "http://10.0.0.1/", enabled: true, headers: [] as [string, string][], auth: null, tls: null } as TargetConfig;
    const stats: TargetStats = {
      name: "t", disabled: true, disabledReason: "r".repeat(5000), lastError: "e".repeat(5000), lastErrorAt: null, consecutiveFailures: 3,
      failingSince: null, circuitOpenUntil: null, queue: { pending: 0, delivering: 0, paused: 0, failed: 0, cancelled: 0 },
      windowMs: 3_600_000, recentAttempts: 0, recentSuccesses: 0, lastAttempt: null,
    };
    const entry = targetJson(target, stats, 0);
    expect(entry.lastError).toHaveLength(LIST_VALUE_MAX_CHARS);
    expect(entry.disabledReason).toHaveLength(LIST_VALUE_MAX_CHARS);
    expect(entry.truncated).toEqual(["disabledReason", "lastError"]);
  });
});

describe("a target's circuit", () => {
  test("open while its time runs, and still open (half-open, the next attempt probes it) once it has, as /metrics and the alerts say", () => {
    const target = { name: "t", kind: "push", url: "http://10.0.0.1/", enabled: true, headers: [] as [string, string][], auth: null, tls: null } as TargetConfig;
    const stats: TargetStats = {
      name: "t", disabled: false, disabledReason: null, lastError: "HTTP 500", lastErrorAt: 900, consecutiveFailures: 10,
      failingSince: 100, circuitOpenUntil: 2_000, queue: { pending: 0, delivering: 0, paused: 0, failed: 3, cancelled: 0 },
      windowMs: 3_600_000, recentAttempts: 10, recentSuccesses: 0, lastAttempt: null,
    };
    expect(targetJson(target, stats, 1_000)).toMatchObject({ state: "circuit-open", circuitOpenUntil: new Date(2_000).toISOString(), circuitHalfOpen: false });
    expect(targetJson(target, stats, 3_000)).toMatchObject({ state: "circuit-open", circuitOpenUntil: null, circuitHalfOpen: true });
    // A success closed it: failures and the circuit cleared.
    expect(targetJson(target, { ...stats, consecutiveFailures: 0, circuitOpenUntil: null }, 3_000)).toMatchObject({ state: "healthy", circuitHalfOpen: false });
  });
});

describe("targets behind credentials", () => {
  test("configured headers are shown masked, with the auth kind and TLS parts, never a value", () => {
    const target = {
      name: "billing", kind: "push", url: "https://billing.internal/hooks", enabled: true,
      headers: [["x-api-key", "k-SECRET-1"], ["x-env", "prod"]],
      auth: { kind: "oauth2", tokenUrl: "https://auth.internal/token", clientId: "relay", clientSecret: "cs-SECRET-2", scope: null },
      tls: { ca: "-----BEGIN CERTIFICATE-----", cert: "-----BEGIN CERTIFICATE-----", key: "key-SECRET-3" },
    } as TargetConfig;
    const stats: TargetStats = {
      name: "billing", disabled: null, disabledReason: null, lastError: null, lastErrorAt: null, consecutiveFailures: 0, failingSince: null, circuitOpenUntil: null,
      queue: { pending: 0, delivering: 0, paused: 0, failed: 0, cancelled: 0 }, windowMs: 3_600_000, recentAttempts: 0, recentSuccesses: 0, lastAttempt: null,
    };
    const entry = targetJson(target, stats, 0);
    expect(entry).toMatchObject({
      headers: [["x-api-key", "[redacted: 10 chars]"], ["x-env", "[redacted: 4 chars]"]],
      auth: "oauth2",
      tls: { ca: true, clientCertificate: true },
    });
    expect(JSON.stringify(entry)).not.toContain("SECRET");
  });
});
