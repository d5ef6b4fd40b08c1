/**
 * How an attempt reaches its target. A push target gets an HTTP POST
 * (sender.ts); a `listen` target's attempt is handed to the connected
 * `hookrelay listen` client and ends with its ack (listen-hub.ts). Everything
 * around the send — preparing the headers, deciding the outcome, recording
 * it — is the same for both (attempt.ts).
 */
import type { TargetConfig } from "../config/types.ts";
import type { LeasedDelivery } from "../store/deliveries.ts";
import type { Sender, SendReport } from "./sender.ts";

/** One attempt ready to go: the delivery, its attempt number, the headers to send and the exact stored body. */
export interface PreparedAttempt {
  delivery: LeasedDelivery;
  attempt: number;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer>;
}

/** Sends prepared attempts to one kind of target; the report is a value, never an exception. */
export interface Transport {
  send(a: PreparedAttempt): Promise<SendReport>;
}

/** The push transport: one POST to the target's URL within its timeouts. */
export function httpTransport(target: TargetConfig, sender: Sender): Transport {
  return {
    send: (a) => sender({ url: target.url, body: a.body, headers: a.headers, timeoutMs: target.timeoutMs, connectTimeoutMs: target.connectTimeoutMs }),
  };
}
