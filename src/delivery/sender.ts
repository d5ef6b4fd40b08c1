/**
 * One HTTP attempt to a target: POST the exact bytes, never follow a
 * redirect, give up at the connect and total timeouts, read at most 4 KB of
 * the reply (a target streaming a huge body is cut off, not read whole), and
 * refuse a name that resolves to a link-local / cloud-metadata address.
 * Connections are kept alive and pooled (http-exchange.ts), so one serves
 * many attempts.
 *
 * The request goes to the address the guard checked, never to a second lookup
 * of the name: otherwise a name whose answer changes in between (DNS
 * rebinding, TTL 0) passes the check and is then requested at 169.254.169.254.
 * A name's answer is used again for a second (each use checked again).
 * The connection is made to that address; the name stays in the Host header
 * and, for https, is the TLS server name (SNI and the certificate check); a
 * target's own CAs and client certificate (`tls` in its config) go beside it,
 * so a private CA's certificate is checked against the name, never the
 * address. A name with several answers is tried in the resolver's order: an
 * address that cannot be connected to (refused, unreachable, or not within
 * the connect timeout — nothing was sent) hands over to the next, all within
 * the attempt's total timeout; any failure after the request may have left
 * ends the attempt.
 */
import { lookup } from "node:dns/promises";
import { isForbiddenAddress, parseIPv4, parseIPv6 } from "../core/address-guard.ts";
import type { SendResult } from "../core/delivery-outcome.ts";
import { createHttpExchanger, errorText } from "./http-exchange.ts";

/** How many bytes of a target's reply are kept for the UI. */
export const EXCERPT_BYTES = 4096;
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

/** A target's TLS material (PEM), beside the server name the sender adds. */
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
 * Makes the real sender: one HTTP/1.1 exchanger (http-exchange.ts) whose
 * kept-alive connections serve every target, and the resolver.
 */
export function createSender(opts: { resolve?: (host: string) => Promise<string[]>; nameReuseMs?: number } = {}): Sender {
  const resolveHost = reusedAnswers(opts.resolve ?? resolveAll, opts.nameReuseMs ?? NAME_REUSE_MS);
  const exchanger = createHttpExchanger();
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
    const head = requestHead(target, req);
    if (typeof head !== "string") return { result: head, durationMs: elapsed(), excerpt: null };
    // Every answer in the resolver's order; one that cannot be connected to hands over to the next.
    const candidates = addresses.length === 1 ? addresses : [...new Set(addresses.length > 0 ? addresses : [host])];
    // The total timeout bounds the whole attempt, every address included: it is what the lease is sized by.
    const deadline = started + req.timeoutMs;
    const unreachable: SendResult[] = [];
    for (const address of candidates) {
      if (performance.now() >= deadline) break;
      const outcome = await exchanger.exchange({
        address: address.replace(/%.*$/, ""),
        port: target.port,
        tls: target.tls === null ? null : { ...req.tls, serverName: target.tls.serverName },
        poolKey: `${address} ${target.poolKey} ${tlsIdentity(req.tls)}`,
        head,
        body: req.body,
        connectTimeoutMs: req.connectTimeoutMs,
        deadline,
        timeoutMs: req.timeoutMs,
        replyBytes: req.replyBytes ?? EXCERPT_BYTES,
      });
      if (outcome.kind === "unconnected") {
        unreachable.push(outcome.failure);
        continue;
      }
      if (outcome.kind === "failed") return { result: outcome.failure, durationMs: elapsed(), excerpt: null };
      const { status, headers, body } = outcome.reply;
      return {
        result: { kind: "response", status, retryAfter: headers.get("retry-after") ?? null, location: headers.get("location") ?? null },
        durationMs: elapsed(),
        excerpt: excerptText(body),
      };
    }
    return { result: noAddressReached(unreachable, req.timeoutMs), durationMs: elapsed(), excerpt: null };
  };
}

/** Why no address of a target could be connected to: every address's failure, when there were several. */
function noAddressReached(failures: SendResult[], timeoutMs: number): SendResult {
  if (failures.length === 0) return { kind: "timeout", phase: "total", afterMs: timeoutMs };
  if (failures.length === 1 || failures.every((f) => f.kind !== "network")) return failures.at(-1)!;
  const messages = [...new Set(failures.map((f) => (f.kind === "network" ? f.message : f.kind === "timeout" ? `connect timeout after ${f.afterMs}ms` : f.kind)))];
  return { kind: "network", message: messages.join("; ") };
}

/** A target URL taken apart once: its host (a name or a literal address), port, and what every request to it starts with. */
interface ParsedTarget {
  host: string;
  port: number;
  /** The host is an address: nothing to resolve. */
  literal: boolean;
  /** For a literal: the host itself when the guard refuses it. */
  forbidden: string | undefined;
  /** https: the name the certificate must carry (none for an address, which is checked as itself). */
  tls: { serverName: string | undefined } | null;
  /** The request line and Host header. */
  requestLine: string;
  poolKey: string;
}

function parseTarget(href: string): ParsedTarget {
  const url = new URL(href);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const literal = isIpLiteral(host);
  const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
  return {
    host,
    port,
    literal,
    forbidden: literal && isForbiddenAddress(host) ? host : undefined,
    tls: url.protocol === "https:" ? { serverName: literal ? undefined : host.replace(/\.$/, "") } : null,
    // The name stays in the Host header whatever address the request goes to.
    requestLine: `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`,
    poolKey: `${url.protocol}//${url.host}:${port}`,
  };
}

// A value that would end its header line (or is not a byte) would let a header be injected.
const NOT_A_HEADER_BYTE = /[\0\r\n\u0100-\uffff]/;
const NOT_A_TOKEN = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
// Framing is the exchange's: these are never taken from the caller.
const FRAMING = new Set(["host", "content-length", "transfer-encoding", "connection"]);

/** The request's head: line, Host, the caller's headers, Content-Length; a header that cannot be sent is a network error, as fetch's was. */
function requestHead(target: ParsedTarget, req: SendRequest): string | SendResult {
  let head = target.requestLine;
  for (const [name, value] of req.headers) {
    if (name.length === 0 || NOT_A_TOKEN.test(name) || NOT_A_HEADER_BYTE.test(value)) return { kind: "network", message: `header ${JSON.stringify(name.slice(0, 60))} cannot be sent: invalid name or value` };
    if (FRAMING.has(name.toLowerCase())) continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}content-length: ${req.body.length}\r\n`;
}

// TLS material per target is one object, made once from its config: its identity keys the pool.
const tlsIds = new WeakMap<SendTls, number>();
let lastTlsId = 0;
function tlsIdentity(tls: SendTls | undefined): number {
  if (tls === undefined) return 0;
  let id = tlsIds.get(tls);
  if (id === undefined) tlsIds.set(tls, (id = ++lastTlsId));
  return id;
}

const utf8 = new TextDecoder();
// Lossy on purpose: the excerpt is for a human, whatever bytes the target sent.
const excerptText = (bytes: Uint8Array) => utf8.decode(bytes);

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

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) ? parseIPv4(host) !== null : parseIPv6(host) !== null;
}
