/**
 * What a relay does when its PostgreSQL server goes away (stopped, restarted,
 * cut off): one statement failing for want of a connection makes the watch
 * ask the server once more (one dropped connection is not an outage: the pool
 * opens another); if that fails too, the database is lost. Then:
 * - every statement fails at once with an `unreachable` StoreError instead of
 *   each waiting for a connection attempt of its own (ingest answers 503 +
 *   Retry-After at once, /readyz says "unreachable", the loops skip a round);
 * - only the watch tries to reach the server, with a backoff (250 ms doubling
 *   to 5 s), so that a hundred relays do not hammer a server that is starting;
 * - it logs one line when the database is lost and one when it is back,
 *   whatever the loops and senders did meanwhile (they do not log the loss).
 * Bun's pool opens new connections by itself on the next statement once the
 * server answers again: nothing is reopened here.
 */
import type { Logger } from "../../log/logger.ts";
import { StoreError } from "../errors.ts";

/**
 * A statement the server did not answer in time (client.ts answerTimeoutMs):
 * the wait itself was the check, so the database is lost at once, without a
 * probe that would wait as long again.
 */
export class NoAnswerError extends StoreError {
  constructor(ms: number) {
    super("unreachable", `the database did not answer within ${ms / 1000} s`);
  }
}

/** How a pool reports failed connections and is held back while its database is away (client.ts). */
export interface ConnectionHooks {
  /** Non-null while the database is known to be unreachable: statements fail at once with it. */
  downError(): StoreError | null;
  /** A statement failed because its connection did. */
  failed(err: unknown): void;
}

export interface ConnectionWatchOptions {
  /** Reaches the server past the hooks (every pool of the store); rejects while it is away. */
  probe: () => Promise<unknown>;
  log: Logger;
  /** The database as logs name it (redactedUrl: never the password). */
  where: string;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/** Tracks whether the store's PostgreSQL server answers; see the file comment. */
export class ConnectionWatch implements ConnectionHooks {
  #down: StoreError | null = null;
  #checking = false;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #wake: (() => void) | null = null;
  readonly #o: ConnectionWatchOptions;

  constructor(opts: ConnectionWatchOptions) {
    this.#o = opts;
  }

  downError(): StoreError | null {
    return this.#down;
  }

  failed(err: unknown): void {
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    void this.#confirm(err);
  }

  /** Stops retrying (the store is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #confirm(err: unknown): Promise<void> {
    if (!(err instanceof NoAnswerError) && (await this.#answers())) {
      this.#checking = false;
      return;
    }
    const lostAt = Date.now();
    const reason = (err as Error)?.message ?? String(err);
    this.#down = new StoreError("unreachable", `cannot reach the database ${this.#o.where} (${reason}); retrying`, { cause: err });
    this.#o.log.warn("lost the database", { store: this.#o.where, error: reason });
    let waitMs = this.#o.firstRetryMs ?? 250;
    while (!this.#closed) {
      await this.#sleep(waitMs);
      if (this.#closed || (await this.#answers())) break;
      waitMs = Math.min(waitMs * 2, this.#o.maxRetryMs ?? 5000);
    }
    if (this.#closed) return;
    this.#down = null;
    this.#checking = false;
    this.#o.log.info("the database is back", { store: this.#o.where, downMs: Date.now() - lostAt });
  }

  async #answers(): Promise<boolean> {
    try {
      await this.#o.probe();
      return true;
    } catch {
      return false;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }
}
