/**
 * How an attempt reaches its target. A push target gets an HTTP POST
 * (sender.ts) carrying its configured headers and credentials (target-auth.ts)
 * over its TLS settings; a `listen` target's attempt is handed to the
 * connected `hookrelay listen` client and ends with its ack (listen-hub.ts).
 * Everything around the send — preparing the headers, deciding the outcome,
 * recording it — is the same for both (attempt.ts).
 *
 * Each report carries the request as it is recorded with the attempt and
 * shown on the event page: the headers actually sent, with every value the
 * target's config supplies masked (its `headers`, which may come from secret
 * refs, and the credential part of Authorization) and the URL without
 * userinfo or query. The reply excerpt is stored too: what of those a target
 * echoes back is replaced in it (echoableSecrets). The signing secret is never in a header; the
 * `webhook-signature` derived from it is kept, so that an operator can
 * compare it with what the target computed.
 */
import type { TargetConfig } from "../config/types.ts";
import { echoableSecrets, maskHeaders, redactedValue, shownTargetUrl } from "../core/header-mask.ts";
import type { AttemptRequest, LeasedDelivery } from "../store/deliveries.ts";
import type { Sender, SendReport } from "./sender.ts";
import { createTargetAuth, maskedAuthorization, sendTls } from "./target-auth.ts";

/** One attempt ready to go: the delivery, its attempt number, the headers to send and the exact stored body. */
export interface PreparedAttempt {
  delivery: LeasedDelivery;
  attempt: number;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer>;
}

/** What a send reports: its result and the request made (null when none was: no client, no token). */
export interface TransportReport extends SendReport {
  request: AttemptRequest | null;
}

/** Sends prepared attempts to one kind of target; the report is a value, never an exception. */
export interface Transport {
  send(a: PreparedAttempt): Promise<TransportReport>;
}

/** The push transport: one POST to the target's URL within its timeouts, with its headers, credentials and TLS material. */
export function httpTransport(target: TargetConfig, sender: Sender, clock: () => number = Date.now): Transport {
  const credentials = createTargetAuth(target, { sender, clock });
  const tls = sendTls(target.tls);
  // Values a target echoing its request (a debugging endpoint) would put in the stored reply excerpt.
  const secretValues = echoableSecrets(target);
  // What the record shows of the target's own parts, masked once.
  const shown = {
    url: shownTargetUrl(target),
    headers: target.headers.map(([name, value]): [string, string] => [name, redactedValue(value)]),
    authorization: maskedAuthorization(target.auth),
  };
  return {
    async send(a) {
      let posted = false;
      const report = await credentials.send(async (authorization, timeoutMs) => {
        posted = true;
        const headers = withTargetHeaders(a.headers, target.headers, authorization);
        const report = await sender({ url: target.url, body: a.body, headers, timeoutMs, connectTimeoutMs: target.connectTimeoutMs, tls });
        return withoutSecrets(report, authorization, secretValues);
      }, target.timeoutMs);
      // Provider headers were stored redacted; maskHeaders catches any other credential-looking name.
      const request = posted ? { method: "POST", url: shown.url, headers: withTargetHeaders(maskHeaders(a.headers), shown.headers, shown.authorization) } : null;
      return { ...report, request };
    },
  };
}

/**
 * The prepared headers plus the target's own (which replace a forwarded
 * provider header of the same name) and its Authorization. Config refuses
 * names that would collide with hookrelay's own headers.
 */
function withTargetHeaders(prepared: [string, string][], configured: [string, string][], authorization: string | null): [string, string][] {
  if (configured.length === 0 && authorization === null) return prepared;
  const names = new Set(configured.map(([name]) => name));
  const headers = prepared.filter(([name]) => !names.has(name.toLowerCase()));
  headers.push(...configured);
  if (authorization !== null) headers.push(["authorization", authorization]);
  return headers;
}

/** The report with every credential sent replaced in the reply excerpt (it is stored and shown). */
function withoutSecrets(report: SendReport, authorization: string | null, secretValues: string[]): SendReport {
  const excerpt = report.excerpt;
  if (excerpt === null || (authorization === null && secretValues.length === 0)) return report;
  // The credential part of "Bearer <token>" / "Basic <base64>" first: it may be longer than any configured value.
  const secrets = authorization === null ? secretValues : [authorization.slice(authorization.indexOf(" ") + 1), ...secretValues];
  const scrubbed = secrets.reduce((text, secret) => (secret.length > 0 ? text.replaceAll(secret, "[redacted]") : text), excerpt);
  return scrubbed === excerpt ? report : { ...report, excerpt: scrubbed };
}
