/**
 * Hostile bytes and hostile HTTP at the compiled binary's public port:
 * invalid UTF-8 and BOMs round-tripped byte for byte (ingest → store → admin
 * download → target), chunked bodies over max_body, a Content-Length that
 * lies (written on a raw socket), header floods, slow-drip bodies, and wrong
 * methods and paths. After each abuse the relay must still serve others.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { RunningBinary } from "../support/binary.ts";
import { rawHttp, recordingTarget, relayToml, scratchDir, sendEvent, serveBinary, signPloints } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const MAX_BODY = 64 * 1024;
const tmp = scratchDir("hookrelay-badbody-");
const target = recordingTarget();
let bin: RunningBinary;
let port: number;

beforeAll(async () => {
  bin = await serveBinary(tmp.dir, relayToml({ targets: [{ url: target.url }], maxBody: "64kb", readTimeout: "1s" }));
  port = Number(new URL(bin.publicUrl).port);
});

afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop();
  await target.stop();
  tmp.remove();
});

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
const enc = (s: string) => new TextEncoder().encode(s);

/** The relay still answers a normal signed request. */
async function stillServes(tag: string) {
  const r = await sendEvent(bin.publicUrl, JSON.stringify({ id: `alive_${tag}_${Math.random()}`, type: "ok" }));
  expect(r.status).toBe(200);
}

/** A POST head for /in/p with the given extra lines. */
const head = (lines: string[]) => ["POST /in/p HTTP/1.1", `Host: 127.0.0.1:${port}`, ...lines].join("\r\n") + "\r\n\r\n";

async function storedKeys(): Promise<string[]> {
  const res = await fetch(`${bin.adminUrl}/api/events?limit=200`);
  return ((await res.json()) as { events: { dedupeKey: string }[] }).events.map((e) => e.dedupeKey);
}

test("invalid UTF-8, BOMs, NULs and CRLFs come back byte for byte from the store, the API download and at the target", async () => {
  const cases: [string, Buffer, string][] = [
    ["utf-8 BOM", bytes([0xef, 0xbb, 0xbf], '{"id":"bom8","type":"x"}'), "application/json"],
    ["utf-16le BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"id":"bom16"}', "utf16le")]), "application/json; charset=utf-16"],
    ["invalid utf-8", bytes('{"id":"bad', [0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1], '"}'), "application/json"],
    ["overlong and surrogate", bytes([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]), "application/octet-stream"],
    ["NUL and CRLF", bytes("a\r\nb", [0], "c\r\n\r\n", [0, 0]), "text/plain"],
  ];
  for (const [name, body, contentType] of cases) {
    const r = await sendEvent(bin.publicUrl, body, { "content-type": contentType });
    expect([name, r.status]).toEqual([name, 200]);
    const id = r.json.id!;
    const download = await fetch(`${bin.adminUrl}/api/events/${id}/body`);
    expect([name, Buffer.compare(Buffer.from(await download.arrayBuffer()), body)]).toEqual([name, 0]);
    const detail = (await (await fetch(`${bin.adminUrl}/api/events/${id}`)).json()) as { request: { body: string | null; bodyBase64: string } };
    expect(Buffer.compare(Buffer.from(detail.request.bodyBase64, "base64"), body)).toBe(0);
    let text: string | null = null;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
    } catch {
      // not UTF-8: the API says so with null
    }
    expect([name, detail.request.body]).toEqual([name, text]);
    await waitFor(`${name} at the target`, () => target.byId.has(id), 5_000);
    const hit = target.hits.find((h) => h.webhookId === id)!;
    expect([name, Buffer.compare(Buffer.from(hit.body), body)]).toEqual([name, 0]);
    expect(hit.headers.get("content-type")).toBe(contentType);
    // The UI page renders (escaped text or a binary notice), never a 500.
    expect((await fetch(`${bin.adminUrl}/events/${id}`)).status).toBe(200);
  }
});

test("a chunked body over max_body is refused with 413 while reading, and one just under it is stored whole", async () => {
  const stream = (total: number) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let sent = 0; sent < total; sent += 8192) c.enqueue(new Uint8Array(Math.min(8192, total - sent)).fill(0x20));
        c.close();
      },
    });
  const over = await fetch(`${bin.publicUrl}/in/p`, { method: "POST", body: stream(MAX_BODY + 1), headers: { "x-ploints-signature": "00" } });
  expect(over.status).toBe(413);
  // Raw chunked encoding, far over the limit: cut off, 413, not read to the end.
  const chunk = "x".repeat(16_384);
  const parts = [head(["Transfer-Encoding: chunked", "X-Ploints-Signature: 00"]), ...Array.from({ length: 64 }, () => `${(16_384).toString(16)}\r\n${chunk}\r\n`), "0\r\n\r\n"];
  const raw = await rawHttp(port, parts, { waitMs: 3000 });
  expect(raw.status).toBe(413);
  const under = new Uint8Array(MAX_BODY).fill(0x20);
  under.set(enc('{"id":"chunked_under"}'));
  const ok = await fetch(`${bin.publicUrl}/in/p`, {
    method: "POST",
    body: new ReadableStream({ start: (c) => (c.enqueue(under.slice(0, 1000)), c.enqueue(under.slice(1000)), c.close()) }),
    headers: { "x-ploints-signature": signPloints(under) },
  });
  expect(ok.status).toBe(200);
  const id = ((await ok.json()) as { id: string }).id;
  const stored = Buffer.from(await (await fetch(`${bin.adminUrl}/api/events/${id}/body`)).arrayBuffer());
  expect(Buffer.compare(stored, Buffer.from(under))).toBe(0);
  await stillServes("chunked");
}, 15_000);

test("a chunked body in tens of thousands of tiny chunks is refused with 400 fragmented_body, one in a thousand small chunks is stored", async () => {
  // 20,000 one-byte chunks: each a read of the event loop's; refused at 16,384, unsigned or not.
  const tiny = [head(["Transfer-Encoding: chunked", "X-Ploints-Signature: 00"]), "1\r\nx\r\n".repeat(20_000) + "0\r\n\r\n"];
  const refused = await rawHttp(port, tiny, { waitMs: 3000 });
  expect(refused.status).toBe(400);
  expect(refused.text).toContain("fragmented_body");
  // A real sender's small chunks: 1,000 of 40 bytes.
  const body = JSON.stringify({ id: "chunked_small_pieces", pad: "y".repeat(40_000) });
  const pieces = body.match(/[^]{1,40}/g)!.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`);
  const stored = await rawHttp(port, [head(["Transfer-Encoding: chunked", `X-Ploints-Signature: ${signPloints(body)}`]), pieces.join("") + "0\r\n\r\n"], { waitMs: 3000 });
  expect(stored.status).toBe(200);
  expect(await storedKeys()).toContain("chunked_small_pieces");
  await stillServes("fragmented");
});

test("refusals before verification are logged, folded per source and code, and an unknown source's name is echoed only so far", async () => {
  const long = "x".repeat(5000);
  const res = await fetch(`${bin.publicUrl}/in/${long}`, { method: "POST", body: "{}" });
  expect(res.status).toBe(404);
  // The echo is JSON and nothing else, whatever a browser would make of it.
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const { error } = (await res.json()) as { error: { message: string } };
  expect(error.message).toBe(`no source named "${"x".repeat(100)}…"`);
  const big = new Uint8Array(MAX_BODY + 1).fill(0x20);
  expect((await fetch(`${bin.publicUrl}/in/p`, { method: "POST", body: big, headers: { "x-ploints-signature": "00" } })).status).toBe(413);
  const refused = () => bin.logs().split("\n").filter((l) => l.includes('"msg":"request refused"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor("both refusals logged", () => refused().some((l) => l.code === "body_too_large") && refused().some((l) => l.code === "unknown_source"), 3_000);
  expect(refused().find((l) => l.code === "body_too_large")).toMatchObject({ level: "info", source: "p", status: 413, remote: "127.0.0.1" });
  expect(refused().find((l) => l.code === "unknown_source")).toMatchObject({ source: null, status: 404, message: error.message });
});

test("an unknown source's name is echoed and logged without a query string put into the path", async () => {
  await Bun.sleep(1_100); // the refusals' log is folded a second per code: this one gets a line of its own
  const res = await fetch(`${bin.publicUrl}/in/plonts%3Femail=alice%40example.com`, { method: "POST", body: "{}" });
  expect(res.status).toBe(404);
  const { error } = (await res.json()) as { error: { message: string } };
  expect(error.message).toBe('no source named "plonts" (what followed its "?" is not shown)');
  await waitFor("the refusal logged", () => bin.logs().includes(error.message.replaceAll('"', '\\"')), 3_000);
  expect(bin.logs()).not.toContain("alice");
  // A configured source whose "?" was sent encoded: told so, with the way to send it.
  const known = await fetch(`${bin.publicUrl}/in/p%3Femail=alice%40example.com`, { method: "POST", body: "{}" });
  expect(known.status).toBe(404);
  expect(((await known.json()) as { error: { message: string } }).error.message).toBe('source "p" with an encoded "?" (%3F) after its name: a query string must follow a plain "?", as in /in/p?…');
  // Control and direction characters of a sender's name are not echoed as they are.
  const odd = await fetch(`${bin.publicUrl}/in/x%E2%80%AEy%0Az`, { method: "POST", body: "{}" });
  expect(((await odd.json()) as { error: { message: string } }).error.message).toBe('no source named "x\uFFFDy\uFFFDz"');
  // The cut at 100 characters never splits one: an emoji at the edge stays whole.
  const emoji = await fetch(`${bin.publicUrl}/in/${"d".repeat(99)}%F0%9F%98%80tail`, { method: "POST", body: "{}" });
  expect(((await emoji.json()) as { error: { message: string } }).error.message).toBe(`no source named "${"d".repeat(99)}😀…"`);
});

test("a body shorter than its Content-Length is never stored as complete, whether the client hangs up or stalls", async () => {
  const full = '{"id":"cl_short","type":"x","pad":"0123456789"}';
  const sent = full.slice(0, 20);
  const before = (await storedKeys()).length;
  // Signed over the bytes actually sent: if a cut body were taken as complete, it would verify.
  const lines = [`Content-Length: ${full.length}`, `X-Ploints-Signature: ${signPloints(sent)}`, "Content-Type: application/json"];
  const hungUp = await rawHttp(port, [head(lines) + sent], { endAfterWrite: true, waitMs: 2000 });
  expect(hungUp.status === null || hungUp.status >= 400).toBe(true);
  // Stalls after part of the body: read_timeout (1 s) answers 408.
  const started = performance.now();
  const stalled = await rawHttp(port, [head(lines) + sent], { waitMs: 4000 });
  expect(stalled.status).toBe(408);
  expect(performance.now() - started).toBeLessThan(3000);
  // Signed over the full body and cut: the same.
  const fullSigned = [`Content-Length: ${full.length}`, `X-Ploints-Signature: ${signPloints(full)}`];
  const cut = await rawHttp(port, [head(fullSigned) + sent], { endAfterWrite: true, waitMs: 2000 });
  expect(cut.status === null || cut.status >= 400).toBe(true);
  console.log(`short body: hung up → ${hungUp.status ?? "closed"}, stalled → ${stalled.status}, cut → ${cut.status ?? "closed"}`);
  // A request after them is stored (so any write of theirs would have landed by now), they are not.
  await stillServes("cl-short");
  expect((await storedKeys()).length).toBe(before + 1);
}, 15_000);

test("bytes beyond the Content-Length are never part of the stored body", async () => {
  const body = '{"id":"cl_long","type":"x"}';
  const lines = [`Content-Length: ${body.length}`, `X-Ploints-Signature: ${signPloints(body)}`];
  // Extra bytes that do not form a request: the request is answered, the extra ignored.
  const short = await rawHttp(port, [head(lines) + body + "XYZ"], { waitMs: 2000 });
  expect(short.status).toBe(200);
  // Extra bytes that parse as a broken next request: Bun answers that 400 and closes the
  // connection, possibly before the first answer is written (the provider then retries
  // and is deduped: the first request may be stored, exactly as sent).
  const garbage = await rawHttp(port, [head(lines) + body + "TRAILING GARBAGE THAT IS NOT A REQUEST\r\n\r\n"], { waitMs: 2000 });
  expect([200, 400]).toContain(garbage.status!);
  const list = (await (await fetch(`${bin.adminUrl}/api/events?q=cl_long`)).json()) as { events: { id: string; dedupeKey: string }[] };
  expect(list.events.map((e) => e.dedupeKey)).toEqual(["cl_long"]);
  const stored = await (await fetch(`${bin.adminUrl}/api/events/${list.events[0]!.id}/body`)).text();
  expect(stored).toBe(body);
  await stillServes("cl-long");
});

test("header floods get a 4xx or a closed connection, never a crash, and the relay keeps serving", async () => {
  const body = '{"id":"flood"}';
  const floods: [string, string[]][] = [
    ["one 100 KB header", [`X-Big: ${"a".repeat(100_000)}`]],
    ["2,000 headers", Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${"v".repeat(20)}`)],
    ["500 x 1 KB headers", Array.from({ length: 500 }, (_, i) => `X-K${i}: ${"k".repeat(1000)}`)],
    ["a header line without a colon", ["NoColonHere"]],
    ["a NUL in a header value", ["X-Nul: a\u0000b"]],
  ];
  const seen: Record<string, string> = {};
  for (const [name, lines] of floods) {
    const reply = await rawHttp(port, [head([...lines, `Content-Length: ${body.length}`, `X-Ploints-Signature: ${signPloints(body)}`, "Connection: close"]) + body], { waitMs: 3000 });
    seen[name] = reply.status === null ? "closed" : String(reply.status);
    expect([name, reply.status === null ? reply.closed : reply.status >= 400 && reply.status < 500]).toEqual([name, true]);
    await stillServes(name);
  }
  console.log(`header floods: ${JSON.stringify(seen)}`);
  expect(bin.proc.exitCode).toBeNull();
}, 20_000);

test("a slow-drip body gets 408 at read_timeout while other requests are served meanwhile", async () => {
  const body = '{"id":"drip","type":"x","pad":"' + "d".repeat(100) + '"}';
  const signed = [`Content-Length: ${body.length}`, `X-Ploints-Signature: ${signPloints(body)}`];
  // One byte every 100 ms: the whole body would take ~13 s; read_timeout is 1 s.
  const drip = rawHttp(port, [head(signed), ...body.split("")], { gapMs: 100, waitMs: 100 });
  const chunkedDrip = rawHttp(port, [head(["Transfer-Encoding: chunked", `X-Ploints-Signature: ${signPloints(body)}`]), ...body.split("").map((c) => `1\r\n${c}\r\n`)], { gapMs: 100, waitMs: 100 });
  const started = performance.now();
  await stillServes("during-drip");
  expect(performance.now() - started).toBeLessThan(500);
  const [a, b] = await Promise.all([drip, chunkedDrip]);
  expect(a.status).toBe(408);
  expect(b.status).toBe(408);
  expect((await storedKeys()).includes("drip")).toBe(false);
}, 15_000);

test("wrong methods get 405 with Allow: POST (a HEAD 200), wrong paths 404, and the admin side is not reachable on the public port", async () => {
  for (const method of ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    const res = await fetch(`${bin.publicUrl}/in/p`, { method });
    expect([method, res.status, res.headers.get("allow")]).toEqual([method, 405, "POST"]);
  }
  // A HEAD is a provider checking the URL (Trello): 200, nothing stored.
  const headRes = await fetch(`${bin.publicUrl}/in/p`, { method: "HEAD" });
  expect([headRes.status, headRes.headers.get("allow")]).toEqual([200, "POST"]);
  for (const path of ["/in/nope", "/in/P", "/in/p/extra", "/in/", "/in", "/", "/api/events", "/events", "/metrics", "/healthz", "/in/%2e%2e/api/events", "/in/p%00", "/../api/events"]) {
    const res = await fetch(`${bin.publicUrl}${path}`, { method: "POST", body: "{}" });
    expect([path, res.status]).toEqual([path, 404]);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBeString();
  }
  // A provider given the URL with a slash at its end reaches the source all the same (here: unsigned, 401).
  const slash = await fetch(`${bin.publicUrl}/in/p/`, { method: "POST", body: "{}" });
  expect(slash.status).toBe(401);
  // Raw request lines fetch will not send: a traversal, an absolute URI, WebDAV and made-up
  // methods. Each gets a 4xx, or (unknown method tokens) Bun's parser closes the connection.
  const raw: Record<string, string> = {};
  for (const line of ["GET /../../etc/passwd HTTP/1.1", "GET http://127.0.0.1/api/events HTTP/1.1", "PROPFIND /in/p HTTP/1.1", "BREW /in/p HTTP/1.1"]) {
    const reply = await rawHttp(port, [`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    raw[line] = reply.status === null ? (reply.closed ? "closed" : "silent") : String(reply.status);
    expect([line, reply.status === null ? reply.closed : reply.status >= 400 && reply.status < 500]).toEqual([line, true]);
    expect(reply.text).not.toContain("root:");
  }
  console.log(`raw request lines: ${JSON.stringify(raw)}`);
  await stillServes("methods");
});
