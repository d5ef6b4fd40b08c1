/**
 * "Copy as curl" run for real: the command is pasted into `bash -c` and sent
 * to a raw TCP receiver on 127.0.0.1, which records the request's bytes.
 * Hostile header values and bodies (quotes, `$(…)`, backticks, latin-1 bytes)
 * must arrive byte for byte, and nothing in them may run.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curlCommand, INLINE_BODY_MAX_BYTES } from "./curl-command.ts";

let server: Server;
let port = 0;
const requests: Buffer[] = [];
const dir = mkdtempSync(join(tmpdir(), "hookrelay-curl-"));
const PWNED = join(dir, "pwned");

beforeAll(async () => {
  // Raw bytes, not a parsed request: the HTTP server under test would normalise what we compare.
  server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(all.subarray(0, end).toString("latin1"))?.[1] ?? 0);
      if (all.length < end + 4 + length) return;
      requests.push(all);
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the command with bash and returns the request the receiver got, split into head and body. */
async function runInBash(command: string): Promise<{ head: string; headers: Map<string, Buffer>; body: Buffer }> {
  const before = requests.length;
  const bash = Bun.spawn(["bash", "-c", command], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const code = await bash.exited;
  const stderr = await new Response(bash.stderr).text();
  // curl's progress meter goes to stderr when stdout is not a terminal; anything from bash or a curl error is a failure.
  expect({ code, complaints: stderr.split("\n").filter((l) => /bash|curl:|not found/.test(l)) }).toEqual({ code: 0, complaints: [] });
  expect(requests.length).toBe(before + 1);
  const raw = requests.at(-1)!;
  const end = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, end);
  const headers = new Map<string, Buffer>();
  let at = head.indexOf("\r\n") + 2;
  while (at > 1 && at < head.length) {
    const next = head.indexOf("\r\n", at);
    const line = head.subarray(at, next < 0 ? head.length : next);
    const colon = line.indexOf(":");
    headers.set(line.subarray(0, colon).toString("latin1").toLowerCase(), line.subarray(colon + 1).subarray(line[colon + 1] === 0x20 ? 1 : 0));
    at = next < 0 ? head.length : next + 2;
  }
  return { head: head.toString("latin1"), headers, body: raw.subarray(end + 4) };
}

const HOSTILE = `a'b"c $(touch ${PWNED}) \`touch ${PWNED}\` $HOME \\ ; | & !! %s`;

test("a hostile header value and text body reach the server byte for byte, and nothing in them runs", async () => {
  const body = `{"note":"${HOSTILE.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}",\n"x":"@etc/passwd"}`;
  const command = curlCommand({
    method: "POST",
    url: `http://127.0.0.1:${port}/in/shop?a[]=1&b=$(touch%20${PWNED})`,
    headers: [
      ["host", "provider.example"],
      ["content-type", "application/json"],
      ["x-hostile", HOSTILE],
      ["x-latin1", "caf\u00e9 \u009b"],
      ["x-empty", ""],
      ["connection", "keep-alive"],
      ["x-webhook-secret", "[redacted: 12 chars]"],
      ["user-agent", "Provider-Hookshot/1.0"],
    ],
    body: new TextEncoder().encode(body),
  });
  const got = await runInBash(command);
  expect(existsSync(PWNED)).toBe(false);
  expect(got.head.split("\r\n")[0]).toBe(`POST /in/shop?a[]=1&b=$(touch%20${PWNED}) HTTP/1.1`);
  expect(got.headers.get("x-hostile")!.toString("latin1")).toBe(HOSTILE);
  // Bun hands header values over as latin-1: one char per byte, and that byte is what is sent again.
  expect([...got.headers.get("x-latin1")!]).toEqual([...Buffer.from("caf\u00e9 \u009b", "latin1")]);
  expect(got.headers.get("x-empty")!.length).toBe(0);
  expect(got.headers.get("user-agent")!.toString()).toBe("Provider-Hookshot/1.0");
  expect(got.headers.get("content-type")!.toString()).toBe("application/json");
  // Hop-by-hop and redacted credentials are left out; curl's own Accept is not added.
  expect(got.headers.has("x-webhook-secret")).toBe(false);
  expect(got.headers.has("accept")).toBe(false);
  expect(got.headers.get("host")!.toString()).toBe(`127.0.0.1:${port}`);
  expect(got.body.toString("utf8")).toBe(body);
});

test("a UTF-8 text body arrives byte for byte, chars up to U+00FF (è, ë) as well as beyond (✓)", async () => {
  const body = new TextEncoder().encode('{"dessert":"Crème brûlée ë Ñ ú ✓ 😀"}');
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/u`, headers: [["content-type", "application/json; charset=utf-8"]], body });
  expect(command).toContain("--data-raw");
  // Readable: the text itself in single quotes, not its bytes.
  expect(command).toContain(`--data-raw '{"dessert":"Crème brûlée ë Ñ ú ✓ 😀"}'`);
  const got = await runInBash(command);
  expect([...got.body]).toEqual([...body]);
});

test("a bidirectional-text control in a body is written as its bytes, and the body still arrives exactly", async () => {
  const body = new TextEncoder().encode('{"n":"abc\u202Efdp.exe"}');
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/u`, headers: [], body });
  expect(command).toContain("\\xe2\\x80\\xae");
  expect(command).not.toContain("\u202E");
  expect([...(await runInBash(command)).body]).toEqual([...body]);
});

test("a query parameter shown redacted is left out of the URL and named with the headers left out", async () => {
  const command = curlCommand({
    method: "POST",
    url: `http://127.0.0.1:${port}/in/q?evt=1&token=[redacted: 9 chars]&b=2`,
    headers: [["x-auth-token", "[redacted: 4 chars]"]],
    body: new TextEncoder().encode("{}"),
  });
  expect(command).toContain("# left out, stored redacted: x-auth-token, ?token");
  expect((await runInBash(command)).head.split("\r\n")[0]).toBe("POST /in/q?evt=1&b=2 HTTP/1.1");
});

test("a binary body goes through a base64 pipe and arrives exactly", async () => {
  const body = new Uint8Array([0, 1, 2, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xff, 0xfe, 0x27, 0x0a, 0x0d, 0x09, 0x80]);
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/bin`, headers: [["content-type", "application/octet-stream"]], body });
  expect(command).toContain("base64 -d");
  const got = await runInBash(command);
  expect([...got.body]).toEqual([...body]);
});

test("a text body with control characters (a terminal escape) is sent through the base64 pipe too", async () => {
  const body = new TextEncoder().encode('{"x":"\u001b]0;title\u0007 and \ttab"}');
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/t`, headers: [], body });
  // Nothing a terminal would act on is pasted.
  expect(/[\x00-\x09\x0b-\x1f\x7f]/.test(command)).toBe(false);
  const got = await runInBash(command);
  expect([...got.body]).toEqual([...body]);
  // No content-type was received, so curl's default form type is not added either.
  expect(got.headers.has("content-type")).toBe(false);
});

test("a body too large to paste (past INLINE_BODY_MAX_BYTES) is sent from the downloaded file, and arrives exactly", async () => {
  const body = new TextEncoder().encode(JSON.stringify({ pad: "x".repeat(200_000) }));
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/big`, headers: [["content-type", "application/json"]], body, bodyFile: "evt_01.json" });
  expect(command.length).toBeLessThan(2_000);
  expect(command).toContain(`# the body (${body.length} bytes) is read from the file evt_01.json: save it with "Download exact bytes" first`);
  await Bun.write(join(dir, "evt_01.json"), body);
  const got = await runInBash(command);
  expect(Buffer.compare(got.body, Buffer.from(body))).toBe(0);
  // Just under the limit, still pasted.
  expect(curlCommand({ method: "POST", url: "http://x/in/y", headers: [], body: new Uint8Array(INLINE_BODY_MAX_BYTES).fill(0x61) })).toContain("--data-raw");
});

test("an empty body sends no data", async () => {
  const got = await runInBash(curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/e`, headers: [["x-a", "1"]], body: new Uint8Array() }));
  expect(got.body.length).toBe(0);
  expect(got.headers.get("x-a")!.toString()).toBe("1");
});

test("a header value whose bytes are UTF-8 text is written as that text in plain quotes, and arrives as the same bytes", async () => {
  const bytes = Buffer.from("café ✓", "utf8");
  const command = curlCommand({ method: "POST", url: `http://127.0.0.1:${port}/in/h`, headers: [["x-note", bytes.toString("latin1")]], body: new Uint8Array(0) });
  expect(command).toContain("--header 'x-note: café ✓'");
  expect([...(await runInBash(command)).headers.get("x-note")!]).toEqual([...bytes]);
});
