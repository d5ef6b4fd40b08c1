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
  /** The 503 to answer when `take` returned false. */
  refusal(): HttpError;
  /** Gives the whole share back (idempotent). */
  release(): void;
}

/** A shared byte budget; `hold()` opens one request's share of it. */
export function inflightBudget(maxBytes: number, retryAfterSec: number) {
  let usedBytes = 0;
  const refusal = () =>
    new HttpError(503, "server_busy", `more than server.max_inflight (${maxBytes} bytes) of request bodies in flight; retry later`, {
      "retry-after": String(retryAfterSec),
      connection: "close",
    });
  return {
    usedBytes: () => usedBytes,
    hold(): BodyHold {
      let held = 0;
      return {
        take(bytes) {
          // Only a count of bytes: anything else (NaN compares as fitting) would corrupt the total for good.
          if (!Number.isSafeInteger(bytes) || bytes < 0 || usedBytes + bytes > maxBytes) return false;
          usedBytes += bytes;
          held += bytes;
          return true;
        },
        refusal,
        release() {
          usedBytes -= held;
          held = 0;
        },
      };
    },
  };
}

export type InflightBudget = ReturnType<typeof inflightBudget>;
