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

test("connections that declare a webhook-sized body and send none hold no share of max_inflight once late: a signed request meanwhile is stored", async () => {
  const bin = await serveBinary(tmp.dir, relayToml({ maxBody: "64kb", maxInflight: "2mb", readTimeout: "20s" }));
  const sockets: { end(): void }[] = [];
  try {
    const port = Number(new URL(bin.publicUrl).port);
    // Twice the budget declared in 64 KB bodies (read whole, their share taken before they arrive); none sent.
    for (let i = 0; i < 64; i++) {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.write(`POST /in/p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 65536\r\nX-Ploints-Signature: 00\r\n\r\n`);
      sockets.push(socket);
    }
    // While on time they hold the budget (a provider's body is right behind its headers)…
    await Bun.sleep(100);
    expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "while-on-time", type: "x" }))).status).toBe(503);
    // …then they are late, and hold nothing.
    await Bun.sleep(ON_TIME_MS + 200);
    const res = await sendEvent(bin.publicUrl, JSON.stringify({ id: "meanwhile", type: "x" }));
    expect(res.status).toBe(200);
  } finally {
    for (const s of sockets) s.end();
    await bin.stop();
  }
}, 30_000);

test("connections that declare 1 MB and trickle it hold no share of max_inflight: a signed request meanwhile is stored", async () => {
  const bin = await serveBinary(tmp.dir, relayToml({ maxBody: "1mb", maxInflight: "2mb", readTimeout: "20s" }));
  const sockets: { end(): void }[] = [];
  try {
    const port = Number(new URL(bin.publicUrl).port);
    // Eight times the budget, declared; one byte each sent, the rest never.
    for (let i = 0; i < 16; i++) {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.write(`POST /in/p HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\nX-Ploints-Signature: 00\r\n\r\n{`);
      sockets.push(socket);
    }
    await Bun.sleep(300);
    const res = await sendEvent(bin.publicUrl, JSON.stringify({ id: "meanwhile", type: "x" }));
    expect(res.status).toBe(200);
  } finally {
    for (const s of sockets) s.end();
    await bin.stop();
  }
}, 30_000);
