import { expect, test } from "bun:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { decodeBody } from "./decode-body.ts";

const TEXT = '{"id":"evt_1","note":"ë Ñ ú ✓"}';
const bytes = (b: Uint8Array) => Buffer.from(b).toString("utf8");

test("gzip, x-gzip, deflate (zlib or raw), br and zstd bodies decode to the original bytes", async () => {
  const cases: [string, Uint8Array][] = [
    ["gzip", gzipSync(TEXT)],
    ["x-gzip", gzipSync(TEXT)],
    ["deflate", deflateSync(TEXT)],
    ["deflate", deflateRawSync(TEXT)],
    ["br", brotliCompressSync(TEXT)],
    ["zstd", zstdCompressSync(TEXT)],
    ["GZip", gzipSync(TEXT)],
  ];
  for (const [encoding, body] of cases) {
    const out = await decodeBody(body, encoding, 1024);
    expect({ encoding, out: out.ok ? bytes(out.body) : out }).toEqual({ encoding, out: TEXT });
  }
});

test("several codings are undone last-applied first; identity and no header leave the body as is", async () => {
  const twice = brotliCompressSync(gzipSync(TEXT));
  const out = await decodeBody(twice, "gzip, br", 1024);
  expect(out.ok && bytes(out.body)).toBe(TEXT);
  const plain = new TextEncoder().encode(TEXT);
  expect(await decodeBody(plain, null, 1024)).toEqual({ ok: true, body: plain });
  expect(await decodeBody(plain, "identity", 1024)).toEqual({ ok: true, body: plain });
});

test("a body that does not decode, or an unknown coding, is reported as a value", async () => {
  const plain = new TextEncoder().encode(TEXT);
  expect(await decodeBody(plain, "gzip", 1024)).toEqual({ ok: false, reason: "corrupt" });
  expect(await decodeBody(gzipSync(TEXT).subarray(0, 12), "gzip", 1024)).toEqual({ ok: false, reason: "corrupt" });
  expect(await decodeBody(plain, "compress", 1024)).toEqual({ ok: false, reason: "unsupported" });
});

test("decoding stops at the size cap: a 1 GB gzip bomb is refused without being inflated", async () => {
  const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  // Concatenated gzip members decode as one stream: ~1 MB that inflates to 1 GB.
  const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
  const before = process.memoryUsage().rss;
  expect(await decodeBody(bomb, "gzip", 1024 * 1024)).toEqual({ ok: false, reason: "too_large" });
  // Inflating it would have taken a gigabyte; stopping at the cap takes a few megabytes.
  expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  const exact = await decodeBody(gzipSync(Buffer.alloc(1000)), "gzip", 1000);
  expect(exact.ok && exact.body.length).toBe(1000);
  expect(await decodeBody(gzipSync(Buffer.alloc(1001)), "gzip", 1000)).toEqual({ ok: false, reason: "too_large" });
});
