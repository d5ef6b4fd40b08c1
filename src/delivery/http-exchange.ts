/**
 * One HTTP/1.1 request and its reply over a kept-alive connection, on Bun's
 * own sockets: the request is written from the event loop (with the rest of
 * its turn's requests, see TurnWrites) and its reply parsed as it arrives —
 * status line and headers, then the body framed by Content-Length, chunked
 * coding or the connection's end, of which only the first `replyBytes` are
 * kept. `fetch` hands each request to Bun's HTTP client thread and back,
 * which cost a delivery more CPU than the relay's own work around the send,
 * and it has no connect timeout.
 *
 * A connection carries one exchange at a time. It goes back to its pool
 * (keyed by address, port, server name and TLS material) when its reply was
 * framed, read to the end, and neither side said `connection: close`; any
 * other ending closes it. A pooled connection the server closed meanwhile
 * (its keep-alive timeout) fails before any reply byte: that exchange is
 * made once more on a new connection.
 *
 * The caller gives the checked address: nothing here resolves a name. TLS
 * checks the certificate against `serverName` (sent as SNI), never the address.
 */
import type { SendResult } from "../core/delivery-outcome.ts";

/** TLS for one exchange: the name the certificate must carry, and the target's own CAs and client certificate (PEM). */
export interface ExchangeTls {
  serverName: string | undefined;
  ca?: string | string[];
  cert?: string;
  key?: string;
}

/** One POST to one address. */
export interface ExchangeRequest {
  address: string;
  port: number;
  /** null for plain http. */
  tls: ExchangeTls | null;
  /** Which connections this exchange may share: the same address, port, server name and TLS material. */
  poolKey: string;
  /** The request line and header lines, each ending in CRLF, without the empty line that ends them. */
  head: string;
  body: Uint8Array;
  connectTimeoutMs: number;
  /** performance.now() at which the exchange gives up, connecting included. */
  deadline: number;
  /** The attempt's total timeout, as its timeout failure reports it. */
  timeoutMs: number;
  /** Reply body bytes to keep; the rest is never read. */
  replyBytes: number;
}

/** A reply: its status, its headers (names lower-cased, repeats joined by ", ") and the first bytes of its body. */
export interface Reply {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

export type ExchangeOutcome =
  | { kind: "reply"; reply: Reply }
  /** No connection could be made: nothing was sent, so another address may be tried. */
  | { kind: "unconnected"; failure: SendResult }
  /** Anything after the request may have left. */
  | { kind: "failed"; failure: SendResult };

// After the status line the body only feeds the excerpt: a slow body does not hold the attempt.
const BODY_READ_MS = 1000;
// A reply whose headers do not end within this many bytes is not one we can use.
const MAX_HEAD_BYTES = 64 * 1024;
// A pooled connection idle longer than this is closed rather than reused (servers' keep-alive timeouts are 5 s and up).
const IDLE_REUSE_MS = 4000;

const LF = 0x0a;
const CR = 0x0d;
// A reply that ended before any byte of it.
const NO_REPLY = "the target closed the connection without replying";

/** Exchanges over pooled connections; one per process is enough. */
export interface HttpExchanger {
  exchange(req: ExchangeRequest): Promise<ExchangeOutcome>;
  /** Closes every idle connection. */
  close(): void;
}

export function createHttpExchanger(): HttpExchanger {
  const idle = new Map<string, Connection[]>();

  const release = (conn: Connection) => {
    conn.idleSince = performance.now();
    // An idle connection does not keep the process alive (as fetch's pool does not).
    conn.socket?.unref();
    let list = idle.get(conn.poolKey);
    if (list === undefined) idle.set(conn.poolKey, (list = []));
    list.push(conn);
  };
  const forget = (conn: Connection) => {
    const list = idle.get(conn.poolKey);
    const at = list?.indexOf(conn) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  };
  // The most recently used first: the least likely to have been closed by the server.
  const takeIdle = (key: string): Connection | null => {
    const list = idle.get(key);
    while (list !== undefined && list.length > 0) {
      const conn = list.pop()!;
      if (conn.open && performance.now() - conn.idleSince < IDLE_REUSE_MS) return conn;
      conn.close();
    }
    return null;
  };

  const exchangeOn = (conn: Connection, req: ExchangeRequest) =>
    new Promise<ExchangeOutcome | "stale">((resolve) => conn.start(req, resolve));

  return {
    async exchange(req) {
      const pooled = takeIdle(req.poolKey);
      if (pooled !== null) {
        const outcome = await exchangeOn(pooled, req);
        if (outcome !== "stale") return outcome;
      }
      const connected = await connect(req, { release, forget });
      if (!(connected instanceof Connection)) return connected;
      const outcome = await exchangeOn(connected, req);
      // A new connection is never stale: a close before any reply byte is the target's doing.
      return outcome === "stale" ? { kind: "failed", failure: { kind: "network", message: NO_REPLY } } : outcome;
    },
    close() {
      for (const list of idle.values()) for (const conn of list.splice(0)) conn.close();
    },
  };
}

interface Pool {
  release(conn: Connection): void;
  forget(conn: Connection): void;
}

/** Opens a connection to the request's address (TLS handshake included) within its connect timeout. */
function connect(req: ExchangeRequest, pool: Pool): Promise<Connection | ExchangeOutcome> {
  const timeoutMs = Math.max(1, Math.min(req.connectTimeoutMs, req.deadline - performance.now()));
  return new Promise((resolve) => {
    const conn = new Connection(req.poolKey, req.tls !== null, req.address, pool);
    let settled: Connection | ExchangeOutcome | null = null;
    const settle = (result: Connection | ExchangeOutcome) => {
      if (settled !== null) return;
      settled = result;
      clearTimeout(timer);
      if (result !== conn) conn.close();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ kind: "unconnected", failure: { kind: "timeout", phase: "connect", afterMs: req.connectTimeoutMs } }), timeoutMs);
    conn.onConnect = (outcome) => settle(outcome ?? conn);
    const tls = req.tls === null ? undefined : { ...req.tls, rejectUnauthorized: rejectsUnauthorized() };
    Bun.connect<Connection>({ hostname: req.address, port: req.port, tls, data: conn, socket: SOCKET_HANDLERS }).then(
      (socket) => {
        // Connected after the connect timeout gave up on it.
        if (settled !== null && settled !== conn) socket.end();
      },
      (err: unknown) => settle({ kind: "unconnected", failure: connectFailure(err, req.address) }),
    );
  });
}

// Node's switch for tests and private setups; the default (and anything but "0") checks certificates.
const rejectsUnauthorized = () => process.env.NODE_TLS_REJECT_UNAUTHORIZED !== "0";

function connectFailure(err: unknown, address: string): SendResult {
  const code = (err as { code?: string })?.code;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return { kind: "network", message: `connection refused by ${address}` };
  return { kind: "network", message: errorText(err) };
}

// Bun calls one handler object for every socket; each forwards to the socket's Connection.
const SOCKET_HANDLERS: Bun.SocketHandler<Connection> = {
  open(socket) {
    socket.data.attach(socket);
    if (!socket.data.secure) socket.data.connected(null);
  },
  handshake(socket, success, authorizationError) {
    if (success || !rejectsUnauthorized()) socket.data.connected(null);
    // A certificate refused: connected, but maybe not to the server meant. Nothing was sent, and
    // another address of the name would present the same certificate: the attempt ends here.
    else socket.data.connected({ kind: "failed", failure: { kind: "network", message: tlsFailureText(authorizationError) } });
  },
  data(socket, chunk) {
    turnWrites.replyArrived();
    socket.data.received(chunk);
  },
  drain(socket) {
    socket.data.flush();
  },
  close(socket, err) {
    socket.data.closed(err);
  },
  end(socket) {
    // The server's half-close ends the reply (or the idle connection); ours follows.
    socket.data.closed();
    socket.end();
  },
  error(socket, err) {
    socket.data.closed(err);
  },
  connectError(socket, err) {
    socket.data.closed(err);
  },
};

/**
 * When a started request is written. While replies are coming in, most
 * requests start as one arrives (its slot freed), and a turn handles many
 * replies: written on the spot, the requests left one at a time between the
 * replies' handling, and a target woke for each of them; written back to
 * back once the turn's I/O is handled (an immediate), a target takes several
 * per wake-up, and so does this process with their replies. A request
 * started while none are coming in (a fresh event's delivery on a quiet
 * relay, started by the writer thread's answer to its ingest batch) has
 * nothing to gain from waiting: it goes out as soon as the task that started
 * it is done (a microtask), with the others that task started — before the
 * ingest acks the same answer settled, whose handling would otherwise come
 * first.
 */
export class TurnWrites {
  #waiting: { flush(): void }[] = [];
  #lastReplyAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** A reply is coming in: for the next millisecond, started requests wait for their turn's end. */
  replyArrived() {
    this.#lastReplyAt = this.clock();
  }

  add(conn: { flush(): void }) {
    this.#waiting.push(conn);
    if (this.#waiting.length > 1) return; // a flush is on its way
    if (this.clock() - this.#lastReplyAt < REPLIES_COMING_MS) setImmediate(() => this.#flush());
    else queueMicrotask(() => this.#flush());
  }

  #flush() {
    const waiting = this.#waiting;
    this.#waiting = [];
    // A connection closed meanwhile has no socket: its exchange was settled by the close.
    for (const conn of waiting) conn.flush();
  }
}

/** How recent a reply must be for requests to be batched per turn. */
const REPLIES_COMING_MS = 1;

const turnWrites = new TurnWrites();

type Framing = { kind: "length"; left: number } | { kind: "chunked"; left: number; at: "size" | "data" | "data-end" | "trailer" } | { kind: "close" };

/** One socket and the exchange in flight on it, if any. */
class Connection {
  socket: Bun.Socket<Connection> | null = null;
  open = false;
  idleSince = 0;
  /** Told once, when the connection is ready (null) or could not be made. */
  onConnect: ((failed: ExchangeOutcome | null) => void) | null = null;
  #exchanges = 0;
  #resolve: ((outcome: ExchangeOutcome | "stale") => void) | null = null;
  #unsent: Uint8Array | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline = 0;
  #replyBytes = 0;
  #timeoutMs = 0;
  // The reply being read.
  #buffered: Buffer | null = null;
  #gotBytes = false;
  #status = 0;
  #headers: Map<string, string> | null = null;
  #keepAlive = false;
  #framing: Framing | null = null;
  #kept: Uint8Array[] = [];
  #keptBytes = 0;

  constructor(
    readonly poolKey: string,
    /** TLS: ready after the handshake, not at open. */
    readonly secure: boolean,
    readonly address: string,
    readonly pool: Pool,
  ) {}

  connected(failed: ExchangeOutcome | null) {
    const onConnect = this.onConnect;
    this.onConnect = null;
    onConnect?.(failed);
  }

  attach(socket: Bun.Socket<Connection>) {
    this.socket = socket;
    this.open = true;
  }

  /** Writes the request; `resolve` gets the reply, a failure, or "stale" (a reused connection closed before any reply byte). */
  start(req: ExchangeRequest, resolve: (outcome: ExchangeOutcome | "stale") => void) {
    this.onConnect = null;
    this.#resolve = resolve;
    this.#exchanges++;
    this.socket!.ref();
    this.#deadline = req.deadline;
    this.#replyBytes = req.replyBytes;
    this.#timeoutMs = req.timeoutMs;
    this.#buffered = null;
    this.#gotBytes = false;
    this.#status = 0;
    this.#headers = null;
    this.#framing = null;
    this.#kept = [];
    this.#keptBytes = 0;
    this.#timer = setTimeout(() => this.#timedOut(), Math.max(1, req.deadline - performance.now()));
    // One buffer, one write: a syscall costs more than copying the body.
    // Latin-1: one byte per character (the sender refuses any other).
    const message = Buffer.allocUnsafe(req.head.length + 2 + req.body.length);
    let at = message.write(req.head, 0, "latin1");
    at += message.write("\r\n", at, "latin1");
    message.set(req.body, at);
    // Written with the other requests started meanwhile (see TurnWrites); until then it counts as unsent.
    this.#unsent = message;
    turnWrites.add(this);
  }

  #write(bytes: Uint8Array) {
    const written = this.socket!.write(bytes);
    this.#unsent = written < bytes.length ? bytes.subarray(Math.max(0, written)) : null;
  }

  flush() {
    if (this.#unsent !== null && this.socket !== null) this.#write(this.#unsent);
  }

  received(chunk: Buffer) {
    if (this.#resolve === null) {
      // Bytes nobody asked for: the connection is no longer in a known state.
      this.close();
      return;
    }
    this.#gotBytes = true;
    this.#buffered = this.#buffered === null || this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const hadHead = this.#headers !== null;
    if (hadHead || this.#readHead()) this.#readBody();
    // The body gets a short while of its own, within the total timeout, once its head is in without
    // it (a reply that came whole, the usual case, needs no second timer).
    if (!hadHead && this.#headers !== null && this.#resolve !== null) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#finish(false), Math.max(1, Math.min(BODY_READ_MS, this.#deadline - performance.now())));
    }
    // Kept past this call: copied off the socket's read buffer.
    if (this.#resolve !== null && this.#buffered !== null && this.#buffered.length > 0) this.#buffered = Buffer.from(this.#buffered);
  }

  // True once a final (non-1xx) head is read; fails the exchange on a malformed one.
  #readHead(): boolean {
    for (;;) {
      const buffered = this.#buffered!;
      const end = headEnd(buffered);
      // However the head arrived (one packet or many), past the limit it is refused.
      if ((end === null ? buffered.length : end.at) > MAX_HEAD_BYTES) {
        this.#fail("the reply's headers are too large");
        return false;
      }
      if (end === null) return false;
      const lines = buffered.toString("latin1", 0, end.at).split(/\r?\n/);
      this.#buffered = buffered.subarray(end.bodyAt);
      const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
      if (statusLine === null) {
        this.#fail("the reply is not HTTP/1.x");
        return false;
      }
      const status = Number(statusLine[2]);
      // An interim reply (100 Continue, 103 Early Hints) precedes the real one.
      if (status >= 100 && status < 200 && status !== 101) continue;
      const headers = new Map<string, string>();
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        const before = headers.get(name);
        headers.set(name, before === undefined ? value : `${before}, ${value}`);
      }
      const framing = framingOf(status, headers);
      if (typeof framing === "string") {
        this.#fail(framing);
        return false;
      }
      this.#status = status;
      this.#headers = headers;
      this.#framing = framing;
      // After a 101 the connection speaks another protocol: it carries nothing more of ours.
      this.#keepAlive = statusLine[1] === "1" && status !== 101 && framing.kind !== "close" && !/(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? "");
      return true;
    }
  }

  #readBody() {
    const framing = this.#framing!;
    let buffered = this.#buffered!;
    while (buffered.length > 0) {
      if (framing.kind === "close") {
        this.#keep(buffered);
        buffered = buffered.subarray(buffered.length);
      } else if (framing.kind === "length" || framing.at === "data") {
        const part = buffered.subarray(0, framing.left);
        this.#keep(part);
        framing.left -= part.length;
        buffered = buffered.subarray(part.length);
        if (framing.kind === "length" && framing.left === 0) break;
        if (framing.kind === "chunked" && framing.left === 0) framing.at = "data-end";
      } else {
        const eol = buffered.indexOf(LF);
        if (eol < 0) break;
        const line = buffered.toString("latin1", 0, eol > 0 && buffered[eol - 1] === CR ? eol - 1 : eol);
        buffered = buffered.subarray(eol + 1);
        // The status is in: a malformed body is cut short there, as a connection's end cuts one
        // (the reply stands, the connection is not used again).
        if (framing.at === "data-end") {
          if (line !== "") return this.#finish(false);
          framing.at = "size";
        } else if (framing.at === "size") {
          // Hex digits, then optional whitespace and chunk extensions (";name=value").
          const digits = /^([0-9a-f]+)[ \t]*(?:;.*)?$/i.exec(line)?.[1];
          const size = digits === undefined ? Number.NaN : Number.parseInt(digits, 16);
          if (!Number.isSafeInteger(size)) return this.#finish(false);
          framing.left = size;
          framing.at = size === 0 ? "trailer" : "data";
        } else if (line === "") {
          // The empty line after the last chunk (and its trailers, if any).
          framing.left = -1;
          break;
        }
      }
      if (this.#keptBytes >= this.#replyBytes) break;
    }
    this.#buffered = buffered;
    const complete = (framing.kind === "length" && framing.left === 0) || (framing.kind === "chunked" && framing.left === -1);
    if (complete) this.#finish(buffered.length === 0);
    // Enough for the excerpt: the rest is not read (and the connection not reused).
    else if (this.#keptBytes >= this.#replyBytes) this.#finish(false);
  }

  #keep(bytes: Uint8Array) {
    const room = this.#replyBytes - this.#keptBytes;
    if (room <= 0 || bytes.length === 0) return;
    const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
    // Copied: Bun reuses the chunk's memory for the next read.
    this.#kept.push(Uint8Array.prototype.slice.call(part));
    this.#keptBytes += part.length;
  }

  // The reply is done (or cut off): hand it over, and pool or close the connection.
  #finish(readToEnd: boolean) {
    const resolve = this.#resolve;
    if (resolve === null) return;
    this.#resolve = null;
    clearTimeout(this.#timer);
    const body = this.#kept.length === 1 ? this.#kept[0]! : Buffer.concat(this.#kept);
    resolve({ kind: "reply", reply: { status: this.#status, headers: this.#headers!, body } });
    this.#kept = [];
    if (readToEnd && this.#keepAlive && this.open && this.#unsent === null) this.pool.release(this);
    else this.close();
  }

  #fail(message: string) {
    this.#settleFailure({ kind: "network", message });
  }

  #settleFailure(failure: SendResult) {
    const resolve = this.#resolve;
    if (resolve === null) return;
    this.#resolve = null;
    clearTimeout(this.#timer);
    resolve({ kind: "failed", failure });
    this.close();
  }

  #timedOut() {
    this.#settleFailure({ kind: "timeout", phase: "total", afterMs: this.#timeoutMs });
  }

  closed(err?: Error) {
    const wasOpen = this.open;
    this.open = false;
    this.socket = null;
    if (this.onConnect !== null) {
      // Closed before it could be used (a refused or failed connect, or the handshake): nothing was sent.
      const message = !err ? "connection closed while connecting" : this.secure ? tlsFailureText(err) : errorText(err);
      const failure = wasOpen ? { kind: "network" as const, message } : connectFailure(err, this.address);
      this.connected({ kind: "unconnected", failure });
      return;
    }
    this.pool.forget(this);
    if (this.#resolve === null) return;
    // A reply already begun ends here: with the whole body when it was framed by the close, else cut short.
    if (this.#headers !== null) return this.#finish(false);
    if (!this.#gotBytes && this.#exchanges > 1) {
      const resolve = this.#resolve;
      this.#resolve = null;
      clearTimeout(this.#timer);
      resolve("stale");
      return;
    }
    const message = err ? errorText(err) : this.#gotBytes ? "connection closed before the reply's headers were complete" : NO_REPLY;
    this.#settleFailure({ kind: "network", message });
  }

  close() {
    this.pool.forget(this);
    const socket = this.socket;
    this.open = false;
    this.socket = null;
    socket?.end();
  }
}

/**
 * Where the head in `buffered` ends (its last line's end, without its CR)
 * and its body starts; null while its empty line has not come. Line by
 * line, each ended by LF, CRLF or a bare LF alike (RFC 9112 §2.2).
 */
function headEnd(buffered: Buffer): { at: number; bodyAt: number } | null {
  for (let eol = buffered.indexOf(LF); eol >= 0; eol = buffered.indexOf(LF, eol + 1)) {
    const next = buffered[eol + 1];
    const bodyAt = next === LF ? eol + 2 : next === CR && buffered[eol + 2] === LF ? eol + 3 : -1;
    if (bodyAt >= 0) return { at: eol > 0 && buffered[eol - 1] === CR ? eol - 1 : eol, bodyAt };
  }
  return null;
}

/** A Content-Length value: digits only (no sign, no spaces, no list). */
const DIGITS = /^\d+$/;

// How the reply's body ends; a message saying why when its Content-Length cannot be used.
function framingOf(status: number, headers: Map<string, string>): Framing | string {
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { kind: "length", left: 0 };
  const coding = headers.get("transfer-encoding");
  if (coding !== undefined) return /(^|,)\s*chunked\s*$/i.test(coding) ? { kind: "chunked", left: 0, at: "size" } : { kind: "close" };
  const length = headers.get("content-length");
  if (length === undefined) return { kind: "close" };
  // The usual reply: one Content-Length.
  if (DIGITS.test(length)) return { kind: "length", left: Number(length) };
  // Repeated headers arrive joined by ", ": the same value repeated is that value (RFC 9110 §8.6).
  const values = [...new Set(length.split(",").map((v) => v.trim()))];
  if (!values.every((v) => DIGITS.test(v))) return "the reply's Content-Length is not a number";
  if (values.length > 1) return `the reply's Content-Length values conflict (${values.join(", ")})`;
  return { kind: "length", left: Number(values[0]) };
}

// A TLS failure as an operator can act on it: a handshake answered in plain HTTP is the usual mistake.
function tlsFailureText(err: unknown): string {
  const text = `TLS: ${errorText(err)}`;
  return /WRONG_VERSION_NUMBER/.test(text) ? `${text} (does the target speak plain HTTP? its URL would then be http://)` : text;
}

export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e?.message ?? String(err);
  // Bun's socket errors start their message with the code already ("ECONNRESET: connection reset by peer").
  const code = e?.code && !message.startsWith(e.code) ? e.code : null;
  return [code, message].filter(Boolean).join(": ").slice(0, 300);
}
