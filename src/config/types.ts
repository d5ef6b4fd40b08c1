import type { AlertKind } from "../core/alert.ts";
import type { IpRange } from "../core/ip-ranges.ts";
import type { RouteFilter } from "../core/route-filter.ts";
import type { RetryPolicy, ValueRef, VerifySpec } from "../core/types.ts";

export type { RetryPolicy };

/** host:port pair parsed from "0.0.0.0:8080" or ":8080". */
export interface ListenAddress {
  host: string;
  port: number;
}

export interface SourceConfig {
  name: string;
  verify: VerifySpec;
  /** Config, else the preset's default id; empty → the body hash. */
  dedupeKeys: ValueRef[];
  dedupeWindowMs: number;
  /** Config, else the preset's default event type; empty → no event type. */
  eventType: ValueRef[];
  /** Config, else the preset's default forward headers. Lower-cased. */
  forwardHeaders: string[];
  /** Peers allowed to send (allow_ips); null = every address. */
  allowIps: IpRange[] | null;
  /**
   * `verify_token`: what a WebSub/Meta GET challenge must present
   * (`hub.verify_token`), resolved; absent: one of the verify secrets, as before.
   */
  verifyToken?: string;
}


export interface TargetConfig {
  name: string;
  kind: "push" | "listen";
  /** push targets only. */
  url: string;
  /** The URL was read from a secret (env:/file:): it is shown by its scheme and host only (core/header-mask.ts shownTargetUrl). */
  urlIsSecret?: boolean;
  /** Standard Webhooks secrets (whsec_…), newest first; both sign during rotation. */
  signingSecrets: string[];
  /** listen targets only: token the `hookrelay listen` client presents. */
  token: string | null;
  timeoutMs: number;
  connectTimeoutMs: number;
  retry: RetryPolicy;
  concurrency: number;
  /** requests per second, null = unlimited. */
  ratePerSec: number | null;
  ordered: boolean;
  disableAfterMs: number;
  /** Config says this target starts disabled. */
  enabled: boolean;
  /** push targets only: extra request headers, lower-cased names, values resolved. */
  headers: [string, string][];
  auth: TargetAuth | null;
  tls: TargetTls | null;
  /** "raw": the stored request's bytes; "slack": a `{"text": …}` summary (core/slack-format.ts). */
  format: "raw" | "slack";
}

/** How a push target's requests carry credentials (one kind per target). */
export type TargetAuth =
  | { kind: "bearer"; token: string }
  | { kind: "basic"; username: string; password: string }
  /** OAuth2 client-credentials grant: a token from tokenUrl, sent as a bearer token. */
  | { kind: "oauth2"; tokenUrl: string; clientId: string; clientSecret: string; scope: string | null };

/** PEM text: CAs to trust instead of the system's, and a client certificate with its key (mTLS). */
export interface TargetTls {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

export interface RouteConfig {
  from: string;
  to: string[];
  /** Globs over the event type; null = every event. */
  eventTypes: string[] | null;
  /** filter.body / filter.headers / filter.query, validated; absent = every event. */
  filter?: RouteFilter;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** The validated, resolved config: secrets read, durations and sizes in numbers. */
export interface Config {
  server: {
    listen: ListenAddress;
    adminListen: ListenAddress;
    publicUrl: string | null;
    maxBodyBytes: number;
    /** Deadline for reading a whole request (slow-drip bodies). */
    readTimeoutMs: number;
    /** Cap on the body bytes being read and stored at once, across all inbound requests. */
    maxInflightBytes: number;
    /** Peers whose X-Forwarded-For / Forwarded name the client; empty = none (the headers are ignored). */
    trustedProxies: IpRange[];
  };
  store: {
    url: string;
    /** `[store] password`, resolved (PostgreSQL only): never logged, printed or rendered. */
    password?: string;
    retentionMs: number;
    busyTimeoutMs: number;
    /** Full-text search over stored requests: the background indexer and GET /api/events?text=. */
    search: boolean;
    /** `[store] archive`: events go here (daily gzipped NDJSON) before retention deletes them; absent: no archive. */
    archiveDir?: string;
  };
  admin: { token: string | null };
  logLevel: LogLevel;
  sources: SourceConfig[];
  targets: TargetConfig[];
  routes: RouteConfig[];
  /** [alerts] (SPEC.md "Alerts"); null: no alerts. */
  alerts: AlertsConfig | null;
}

/** Who is told when a target dies, and of what. */
export interface AlertsConfig {
  /** Push targets that receive alerts. */
  to: string[];
  on: AlertKind[];
  /** queue.stale: a target's oldest pending delivery is older than this. */
  staleAfterMs: number;
  /** The same alert (kind + subject) at most once per this. */
  repeatAfterMs: number;
}
