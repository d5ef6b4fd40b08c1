/**
 * Senders that declare large bodies and send them a byte at a time, before
 * any signature can be checked: they must not take max_inflight from the
 * providers that send at once. A declared length up to 64 KB is taken from
 * the budget before its body arrives (one native read), and given back while
 * the body is late; a larger one counts as it arrives.
 */
import { afterAll, expect, test } from "bun:test";
import { ON_TIME_MS } from "../../src/http/read-body.ts";
import { relayToml, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";

const tmp = scratchDir("hookrelay-slow-senders-");
afterAll(() => tmp.remove());

/**
 * A relay (max_inflight 2 MB) with `count` connections open that each declared
 * a body of `declared` bytes and sent only `sent` of it; `check` runs meanwhile.
 */
async function withStalledBodies(o: { maxBody: string; count: number; declared: number; sent: string }, check: (publicUrl: string) => Promise<void>) {
  const bin = await serveBinary(tmp.dir, relayToml({ maxBody: o.maxBody, maxInflight: "2mb", readTimeout: "20s" }));
  const sockets: { end(): void }[] = [];
  try {
    const port = Number(new URL(bin.publicUrl).port);
    for (let i = 0; i < o.count; i++) {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.write(`POST /in/p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${o.declared}\r\nX-Ploints-Signature: 00\r\n\r\n${o.sent}`);
      sockets.push(socket);
    }
    await check(bin.publicUrl);
  } finally {
    for (const s of sockets) s.end();
    await bin.stop();
  }
}

test("connections that declare a webhook-sized body and send none hold no share of max_inflight once late: a signed request meanwhile is stored", async () => {
  // Twice the budget declared in 64 KB bodies (read whole, their share taken before they arrive); none sent.
  await withStalledBodies({ maxBody: "64kb", count: 64, declared: 65536, sent: "" }, async (publicUrl) => {
    // While on time they hold the budget (a provider's body is right behind its headers)…
    await Bun.sleep(100);
    expect((await sendEvent(publicUrl, JSON.stringify({ id: "while-on-time", type: "x" }))).status).toBe(503);
    // …then they are late, and hold nothing.
    await Bun.sleep(ON_TIME_MS + 200);
    expect((await sendEvent(publicUrl, JSON.stringify({ id: "meanwhile", type: "x" }))).status).toBe(200);
  });
}, 30_000);

test("bodies that stall just short of their end are bounded too: past a second max_inflight of late ones, each is answered 503 once late", async () => {
  // 64 × 60 KB declared and all but the last byte sent: twice the 2 MB budget. Those on time fill it, the
  // late ones move to a budget of late bodies as large, and the rest get their 503 (memory stays bounded).
  const bin = await serveBinary(tmp.dir, relayToml({ maxBody: "64kb", maxInflight: "2mb", readTimeout: "20s" }));
  const answers: string[] = [];
  const sockets: { end(): void }[] = [];
  try {
    const port = Number(new URL(bin.publicUrl).port);
    for (let i = 0; i < 64; i++) {
      let got = "";
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data(_s, d) { got += d.toString(); if (/\r\n\r\n/.test(got)) answers.push(got.split("\r\n")[0]!); } } });
      socket.write(`POST /in/p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 61440\r\nX-Ploints-Signature: 00\r\n\r\n${"x".repeat(61439)}`);
      sockets.push(socket);
    }
    await Bun.sleep(ON_TIME_MS + 500);
    const refused = answers.filter((a) => a.startsWith("HTTP/1.1 503")).length;
    // 2 MB holds 34 such shares: about half of the 64 are refused, none held past the two budgets.
    expect(refused).toBeGreaterThanOrEqual(64 - 2 * 34);
    expect(refused).toBeLessThanOrEqual(64 - 34);
    // A provider that sends at once is still served.
    expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "meanwhile", type: "x" }))).status).toBe(200);
  } finally {
    for (const s of sockets) s.end();
    await bin.stop();
  }
}, 30_000);

test("connections that declare 1 MB and trickle it hold no share of max_inflight: a signed request meanwhile is stored", async () => {
  // Eight times the budget, declared; one byte each sent, the rest never.
  await withStalledBodies({ maxBody: "1mb", count: 16, declared: 1048576, sent: "{" }, async (publicUrl) => {
    await Bun.sleep(300);
    expect((await sendEvent(publicUrl, JSON.stringify({ id: "meanwhile", type: "x" }))).status).toBe(200);
  });
}, 30_000);
