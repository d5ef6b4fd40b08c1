/**
 * A read_timeout past the HTTP server's default idle limit (30 s): a body
 * that stops arriving still gets the relay's 408 at read_timeout, not a
 * socket closed without a word at 30 s. One stalled request, ~31 s.
 */
import { afterAll, expect, test } from "bun:test";
import { rawHttp, relayToml, scratchDir, serveBinary, signPloints } from "../support/fault-harness.ts";

const tmp = scratchDir("hookrelay-longread-");
afterAll(() => tmp.remove());

test("a body stalled under a 31 s read_timeout gets 408 at 31 s", async () => {
  const bin = await serveBinary(tmp.dir, relayToml({ targets: [], readTimeout: "31s" }));
  try {
    const port = Number(new URL(bin.publicUrl).port);
    const sent = '{"id":"stall","type":"x"';
    const head = ["POST /in/p HTTP/1.1", `Host: 127.0.0.1:${port}`, "Content-Length: 100", `X-Ploints-Signature: ${signPloints(sent)}`].join("\r\n");
    const started = performance.now();
    const stalled = await rawHttp(port, [`${head}\r\n\r\n${sent}`], { waitMs: 40_000 });
    const seconds = (performance.now() - started) / 1000;
    expect(stalled.status).toBe(408);
    expect(seconds).toBeGreaterThan(30.5);
  } finally {
    await bin.stop();
  }
}, 60_000);
