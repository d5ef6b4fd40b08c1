/**
 * `server.max_inflight`: the body bytes being read and stored at once,
 * across all inbound requests. Without a cap, a burst of large bodies is
 * held in memory all at once (1,000 concurrent 1 MB bodies took the process
 * to 1.7–3.2 GB resident). Each request takes its share before reading, by
 * Content-Length when declared, else chunk by chunk as read, and gives it
 * back once it has been answered; a share that does not fit is refused with
 * 503 + Retry-After, and the provider retries later. The refusal closes the
 * connection: the rest of the body is never read, and Bun would otherwise
 * keep the connection waiting for it (a stop then waited 12–28 s for it).
 */
import { HttpError } from "./http-error.ts";

/** One request's share of the budget. */
export interface BodyHold {
  /** Adds `bytes` to this request's share; false (nothing added) when the budget cannot hold them. */
  take(bytes: number): boolean;
  /**
   * Moves the share taken before its body arrived (read-body.ts: a declared
   * body read whole, late) to the budget of late bodies, as large again:
   * false (and the share given back) when that one cannot hold it. Connections
   * that declare a body and send it late, or never, then hold only that
   * second budget, not the one the providers that send at once need.
   */
  moveLate(): boolean;
  /** The 503 to answer when `take` or `moveLate` returned false. */
  refusal(): HttpError;
  /** Gives the whole share back (idempotent). */
  release(): void;
}

/** A shared byte budget; `hold()` opens one request's share of it. */
export function inflightBudget(maxBytes: number, retryAfterSec: number) {
  let usedBytes = 0;
  let lateBytes = 0;
  const refusal = () =>
    new HttpError(503, "server_busy", `more than server.max_inflight (${maxBytes} bytes) of request bodies in flight; retry later`, {
      "retry-after": String(retryAfterSec),
      connection: "close",
    });
  return {
    usedBytes: () => usedBytes,
    lateBytes: () => lateBytes,
    hold(): BodyHold {
      let held = 0;
      let heldLate = 0;
      const release = () => {
        usedBytes -= held;
        lateBytes -= heldLate;
        held = heldLate = 0;
      };
      return {
        take(bytes) {
          // Only a count of bytes: anything else (NaN compares as fitting) would corrupt the total for good.
          if (!Number.isSafeInteger(bytes) || bytes < 0 || usedBytes + bytes > maxBytes) return false;
          usedBytes += bytes;
          held += bytes;
          return true;
        },
        moveLate() {
          const bytes = held;
          usedBytes -= held;
          held = 0;
          if (lateBytes + bytes > maxBytes) return false;
          lateBytes += bytes;
          heldLate += bytes;
          return true;
        },
        refusal,
        release,
      };
    },
  };
}

export type InflightBudget = ReturnType<typeof inflightBudget>;
