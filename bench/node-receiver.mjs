/**
 * A hand-written Node webhook receiver, the "what you would write yourself"
 * baseline of bench/compare.ts:
 *   node bench/node-receiver.mjs <port> <secret> <file>
 * POST any path: checks `X-Signature: sha256=<hex HMAC-SHA256 of the body>`
 * in constant time (401 otherwise), appends one line per request
 * (`<X-Request-Id> <body>\n`) to <file>, and answers 200 only once that line
 * is fsynced.
 *
 * Durability is a group commit, the same contract as hookrelay's
 * (synchronous=FULL, one transaction per batch): requests that arrive while
 * the previous fsync runs wait for the next batch; each batch is one write
 * and one fsync, and every request in it is acknowledged after that fsync.
 * Under load that is one fsync every ~1 ms, as in hookrelay's writer. No
 * dedupe, no store of headers, no delivery: a floor for "verify and persist".
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { fsync, openSync, write } from "node:fs";
import { createServer } from "node:http";

const [port, secret, file] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
if (!port || !secret || !file) {
  console.error("usage: node bench/node-receiver.mjs <port> <secret> <file>");
  process.exit(2);
}
const fd = openSync(file, "a");
const PREFIX = "sha256=";

/** Constant-time check of the hex signature header against the body's HMAC. */
function verified(header, body) {
  if (typeof header !== "string" || !header.startsWith(PREFIX)) return false;
  const given = Buffer.from(header.slice(PREFIX.length), "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

let batch = []; // { line: Buffer, res }
let committing = false;

/** Writes and fsyncs everything queued, then acks it; the next batch waits for this one. */
function commit() {
  if (committing || batch.length === 0) return;
  committing = true;
  const current = batch;
  batch = [];
  const done = (err) => {
    for (const { res } of current) {
      if (err) res.writeHead(503, { "content-type": "application/json", "retry-after": "5" }).end('{"error":"not stored"}');
      else res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    }
    committing = false;
    if (batch.length > 0) setImmediate(commit);
  };
  const data = Buffer.concat(current.map((b) => b.line));
  write(fd, data, 0, data.length, null, (err) => (err ? done(err) : fsync(fd, done)));
}

createServer((req, res) => {
  if (req.method !== "POST") return res.writeHead(405, { allow: "POST" }).end();
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (!verified(req.headers["x-signature"], body)) return res.writeHead(401).end('{"error":"bad_signature"}');
    const id = String(req.headers["x-request-id"] ?? "-");
    batch.push({ line: Buffer.concat([Buffer.from(`${id} `), body, Buffer.from("\n")]), res });
    // setImmediate: let every request already readable join this batch.
    if (!committing && batch.length === 1) setImmediate(commit);
  });
}).listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
