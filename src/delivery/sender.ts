/**
 * One HTTP attempt to a target: POST the exact bytes, never follow a
 * redirect, give up at the connect and total timeouts, read at most 4 KB of
 * the reply (a target streaming a huge body is cut off, not read whole), and
 * refuse a name that resolves to a link-local / cloud-metadata address.
 * Keep-alive is fetch's default, so one connection serves many attempts.
 *
 * The request goes to the address the guard checked, never to a second lookup
 * of the name: otherwise a name whose answer changes in between (DNS
 * rebinding, TTL 0) passes the check and is then requested at 169.254.169.254.
 * A name's answer is used again for a second (each use checked again).
 * The URL's host becomes that address; the name stays in the Host header and,
 * for https, in the TLS server name (SNI and the certificate check), which
 * Bun's fetch takes as `tls.serverName`; a target's own CAs and client
 * certificate (`tls` in its config) go beside it, so a private CA's
 * certificate is checked against the name, never the address. A name with
 * several answers is tried in the resolver's order: an address that cannot
 * be connected to (probe failed, or connection refused — nothing was sent)
 * hands over to the next, all within the attempt's total timeout; any failure
 * after the request may have left ends the attempt.
 */
import { lookup } from "node:dns/promises";
import { isForbiddenAddress, parseIPv4, parseIPv6 } from "../core/address-guard.ts";
import type { SendResult } from "../core/delivery-outcome.ts";

/** How many bytes of a target's reply are kept for the UI. */
export const EXCERPT_BYTES = 4096;
// After the status line the reply body only feeds the excerpt: do not hold a slot for it.
const EXCERPT_READ_MS = 1000;
// An origin that answered within this window is assumed connectable (no probe).
const CONNECTED_RECENTLY_MS = 30_000;
// How long a name's answer is used again (see reusedAnswers).
const NAME_REUSE_MS = 1_000;

/** One request to send. */
export interface SendRequest {
  url: string;
  body: Uint8Array<ArrayBuffer>;
  headers: [string, string][];
  timeoutMs: number;
  connectTimeoutMs: number;
  /** https only: CAs to trust instead of the system's, and a client certificate with its key (PEM). */
  tls?: SendTls;
  /** Reply bytes to read (default EXCERPT_BYTES); an OAuth2 token reply is read whole up to a larger cap. */
  replyBytes?: number;
}

/** TLS material for one request, as Bun's fetch takes it. */
export interface SendTls {
  ca?: string | string[];
  cert?: string;
  key?: string;
}

/** The sender's full report: the classified input plus what the UI shows. */
export interface SendReport {
  result: SendResult;
  durationMs: number;
  /** First 4 KB (or `replyBytes`) of the reply, decoded as UTF-8 (lossy); null when there was no reply. */
  excerpt: string | null;
}

/** Sends one attempt; injectable so the scheduler can be tested without a network. */
export type Sender = (req: SendRequest) => Promise<SendReport>;

/**
 * Makes the real sender. Bun's fetch has no connect timeout, so an address
 * not heard from recently is first probed with a bare TCP connect bounded by
 * `connectTimeoutMs`: a blackholed target then fails fast instead of at the
 * total timeout. Healthy addresses skip the probe and reuse pooled connections.
 */
export function createSender(opts: { resolve?: (host: string) => Promise<string[]>; nameReuseMs?: number } = {}): Sender {
  const resolveHost = reusedAnswers(opts.resolve ?? resolveAll, opts.nameReuseMs ?? NAME_REUSE_MS);
  const lastHeard = new Map<string, number>();
  // Target URLs are few and fixed (config): each is parsed once, and a literal address checked once.
  const parsed = new Map<string, ParsedTarget>();
  return async (req) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let target = parsed.get(req.url);
    if (!target) parsed.set(req.url, (target = parseTarget(req.url)));
    const { host } = target;
    let addresses: string[];
    try {
      addresses = target.literal ? [host] : await resolveHost(host);
    } catch (err) {
      return { result: { kind: "network", message: `cannot resolve ${host}: ${errorText(err)}` }, durationMs: elapsed(), excerpt: null };
    }
    const forbidden = target.literal ? target.forbidden : [host, ...addresses].find(isForbiddenAddress);
    if (forbidden !== undefined) return { result: { kind: "forbidden-address", address: forbidden }, durationMs: elapsed(), excerpt: null };
    // Every answer in the resolver's order; one that cannot be connected to hands over to the next.
    const candidates = addresses.length === 1 ? addresses : [...new Set(addresses.length > 0 ? addresses : [host])];
    let unreachable: SendResult | null = null;
    for (const address of candidates) {
      const left = req.timeoutMs - elapsed();
      // The total timeout bounds the whole attempt, every address included: it is what the lease is sized by.
      if (left <= 0) break;
      const key = `${target.origin} ${address}`;
      if ((lastHeard.get(key) ?? -Infinity) < performance.now() - CONNECTED_RECENTLY_MS) {
        unreachable = await probeConnect(address, target.port, Math.min(req.connectTimeoutMs, left));
        if (unreachable !== null) continue;
      }
      const report = await request(req, target, address, req.timeoutMs - elapsed(), elapsed);
      if (report === "refused") {
        lastHeard.delete(key);
        unreachable = { kind: "network", message: `connection refused by ${address}` };
        continue;
      }
      if (report.result.kind === "network") lastHeard.delete(key);
      else lastHeard.set(key, performance.now());
      return report;
    }
    if (unreachable === null) return { result: { kind: "timeout", phase: "total", afterMs: req.timeoutMs }, durationMs: elapsed(), excerpt: null };
    return { result: unreachable, durationMs: elapsed(), excerpt: null };
  };
}

/** A target URL taken apart once: its host (a name or a literal address), port and origin. */
interface ParsedTarget {
  url: URL;
  host: string;
  port: number;
  origin: string;
  /** The host is an address: nothing to resolve. */
  literal: boolean;
  /** For a literal: the host itself when the guard refuses it. */
  forbidden: string | undefined;
  /** The URL with its host replaced by each address it was requested at. */
  pinned: Map<string, string>;
}

function parseTarget(href: string): ParsedTarget {
  const url = new URL(href);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = isIpLiteral(host);
  return {
    url,
    host,
    port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
    origin: `${url.protocol}//${url.host}`,
    literal,
    forbidden: literal && isForbiddenAddress(host) ? host : undefined,
    pinned: new Map(),
  };
}

/**
 * One POST to one checked address. "refused" when the connection was refused
 * before anything was sent (the next address may be tried: the target cannot
 * have seen this request); any other failure is the attempt's result.
 */
async function request(
  req: SendRequest,
  target: ParsedTarget,
  address: string,
  timeoutMs: number,
  elapsed: () => number,
): Promise<SendReport | "refused"> {
  const { url, host } = target;
  let pinned = target.pinned.get(address);
  if (pinned === undefined) target.pinned.set(address, (pinned = pinnedUrl(url, address)));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, timeoutMs));
  try {
    const res = await fetch(pinned, {
      method: "POST",
      body: req.body,
      // The caller never sets Host (forward headers exclude it); this one names the target.
      headers: [...req.headers.filter(([name]) => name.toLowerCase() !== "host"), ["host", url.host]],
      redirect: "manual",
      signal: controller.signal,
      keepalive: true,
      // Bun keys its connection pool by server name and TLS material too, so two names (or two
      // client certificates) on one address never share a TLS session.
      ...(url.protocol === "https:" ? { tls: isIpLiteral(host) ? req.tls : { ...req.tls, serverName: host.replace(/\.$/, "") } } : {}),
    });
    const excerpt = await readExcerpt(res, controller, req.replyBytes ?? EXCERPT_BYTES);
    return {
      result: { kind: "response", status: res.status, retryAfter: res.headers.get("retry-after"), location: res.headers.get("location") },
      durationMs: elapsed(),
      excerpt,
    };
  } catch (err) {
    if (controller.signal.aborted) return { result: { kind: "timeout", phase: "total", afterMs: req.timeoutMs }, durationMs: elapsed(), excerpt: null };
    if (isRefused(err)) return "refused";
    return { result: { kind: "network", message: errorText(err) }, durationMs: elapsed(), excerpt: null };
  } finally {
    clearTimeout(timer);
  }
}

// A refused connect is the only failure known to happen before the request left.
function isRefused(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === "ConnectionRefused" || code === "ECONNREFUSED";
}

// Reads up to `limit` bytes, then cancels the stream so the rest is never read.
async function readExcerpt(res: Response, controller: AbortController, limit: number): Promise<string> {
  if (!res.body) return "";
  // A short reply that says its length (the usual "ok") is read whole, without a stream reader.
  const length = Number(res.headers.get("content-length") ?? Number.NaN);
  if (length <= limit) return excerptText(new Uint8Array(await res.arrayBuffer()), limit);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const cutoff = setTimeout(() => void reader.cancel().catch(() => {}), EXCERPT_READ_MS);
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A reply cut short (timeout, reset) still has its status; keep what was read.
  } finally {
    clearTimeout(cutoff);
    if (size >= limit) {
      await reader.cancel().catch(() => {});
      controller.abort();
    }
  }
  const all = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - at);
    all.set(part, at);
    at += part.length;
    if (at >= all.length) break;
  }
  return excerptText(all, limit);
}

const utf8 = new TextDecoder();
// Lossy on purpose: the excerpt is for a human, whatever bytes the target sent.
const excerptText = (bytes: Uint8Array, limit: number) => utf8.decode(bytes.subarray(0, limit));

// A bare TCP connect with a deadline; null when it connected.
async function probeConnect(address: string, port: number, timeoutMs: number): Promise<SendResult | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<SendResult>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timeout", phase: "connect", afterMs: timeoutMs }), timeoutMs);
  });
  const attempt = Bun.connect({ hostname: address, port, socket: { data() {} } }).then(
    (socket) => {
      socket.end();
      return null;
    },
    (err: unknown): SendResult => ({ kind: "network", message: errorText(err) }),
  );
  try {
    // A connect landing after the deadline is still closed by the `then` above.
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The resolver, with each name's answer used again for `reuseMs`: a lookup
 * through node:dns costs about as much CPU as all the rest of a delivery,
 * and a busy target is asked thousands of times a second. Every request
 * still goes to an address of the answer the guard checked; a name whose
 * addresses change is followed within `reuseMs`. A failed lookup is not kept.
 */
function reusedAnswers(resolve: (host: string) => Promise<string[]>, reuseMs: number): (host: string) => Promise<string[]> {
  const answers = new Map<string, { addresses: Promise<string[]>; until: number }>();
  return (host) => {
    const now = performance.now();
    let kept = answers.get(host);
    if (kept === undefined || kept.until <= now) {
      const entry = { addresses: resolve(host), until: now + reuseMs };
      answers.set(host, (kept = entry));
      entry.addresses.catch(() => answers.get(host) === entry && answers.delete(host));
    }
    return kept.addresses;
  };
}

async function resolveAll(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

// The target URL with its host replaced by the checked address (bracketed when IPv6).
function pinnedUrl(url: URL, address: string): string {
  const pinned = new URL(url.href);
  pinned.hostname = address.includes(":") ? `[${address.replace(/%.*$/, "")}]` : address;
  return pinned.href;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) ? parseIPv4(host) !== null : parseIPv6(host) !== null;
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return [e?.code, e?.message ?? String(err)].filter(Boolean).join(": ").slice(0, 300);
}
