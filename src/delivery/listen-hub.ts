/**
 * The relay's connected `hookrelay listen` clients: at most one session per
 * listen target in this process. A new connection replaces the old one (the
 * old socket is closed with 4009 "replaced" and its lease released): a laptop
 * that changed networks reconnects before its old half-open socket times out,
 * and refusing it would lock it out until then. Two relay processes on one
 * store each allow one client, but the store's lease still hands every
 * delivery to one of them at a time, in order.
 */
import type { SqlClient as Client } from "../store/remote-client.ts";
import type { SourceConfig, TargetConfig } from "../config/types.ts";
import { LISTEN_CLOSE, type AckMessage } from "../core/listen-protocol.ts";
import { decodeSigningSecret } from "../core/outbound-signing.ts";
import { presetDefaults } from "../core/verify/index.ts";
import type { Logger } from "../log/logger.ts";
import { ListenSession, type ListenSessionDeps, type ListenSocket } from "./listen-session.ts";

/** Options of `createListenHub`; defaults suit production. */
export interface ListenHubOptions {
  client: Client;
  targets: TargetConfig[];
  /** For the provider headers each source forwards (config, else its preset's default). */
  sources: SourceConfig[];
  log: Logger;
  clock?: () => number;
  random?: () => number;
  onAttempt?: ListenSessionDeps["onAttempt"];
  /** Idle poll for due work (retries, redeliveries, other processes' ingest). Default 200 ms. */
  pollMs?: number;
  /** Time beyond a target's timeout that a client gets to ack. Default 15 s. */
  ackMarginMs?: number;
  /** Heartbeat period to connected clients. Default LISTEN_PING_MS. */
  pingMs?: number;
}

/** The sessions of one relay process. */
export interface ListenHub {
  /** The listen target called `name`, or null. */
  target(name: string): TargetConfig | null;
  /** False once stopping: new connections are refused. */
  accepting(): boolean;
  /** Starts a session for an upgraded socket, replacing the target's current one; null (socket closed) when stopping. */
  open(target: string, socket: ListenSocket): ListenSession | null;
  /** Hands a client's ack to its session. */
  receive(session: ListenSession, ack: AckMessage): void;
  /** The socket closed: the session releases its lease. */
  close(session: ListenSession): void;
  /** New deliveries were committed: idle sessions look now. */
  wake(): void;
  /** Names of targets with a connected client. */
  connected(): string[];
  /** Refuses new connections, closes every session and waits for their leases to be released. */
  stop(): Promise<void>;
}

/** Creates the hub for the config's listen targets. */
export function createListenHub(opts: ListenHubOptions): ListenHub {
  const targets = new Map(opts.targets.filter((t) => t.kind === "listen").map((t) => [t.name, t]));
  const keys = new Map([...targets.values()].map((t) => [t.name, t.signingSecrets.map(decodeSigningSecret).filter((k) => k !== null)]));
  const forward = new Map(
    opts.sources.map((s) => [s.name, s.forwardHeaders ?? (s.verify.kind === "preset" ? presetDefaults(s.verify.preset).forwardHeaders : [])]),
  );
  const deps: ListenSessionDeps = {
    client: opts.client,
    clock: opts.clock ?? Date.now,
    random: opts.random ?? Math.random,
    log: opts.log,
    forwardHeadersFor: (source) => forward.get(source) ?? [],
    onAttempt: opts.onAttempt,
    pollMs: opts.pollMs ?? 200,
    ackMarginMs: opts.ackMarginMs ?? 15_000,
    pingMs: opts.pingMs,
  };
  const sessions = new Map<string, ListenSession>();
  let stopping = false;

  return {
    target: (name) => targets.get(name) ?? null,
    accepting: () => !stopping,
    open(name, socket) {
      const t = targets.get(name);
      if (!t) throw new Error(`not a listen target: ${name}`);
      if (stopping) {
        socket.close(LISTEN_CLOSE.shuttingDown, "relay shutting down");
        return null;
      }
      const old = sessions.get(name);
      if (old) {
        opts.log.warn("listen client replaced by a newer connection", { target: name });
        void old.end(LISTEN_CLOSE.replaced, "replaced by a newer connection");
      }
      const session = new ListenSession(deps, t, keys.get(name) ?? [], socket);
      sessions.set(name, session);
      opts.log.info("listen client connected", { target: name });
      return session;
    },
    receive: (session, ack) => session.receive(ack),
    close(session) {
      void session.end();
      if (sessions.get(session.target.name) === session) {
        sessions.delete(session.target.name);
        opts.log.info("listen client disconnected", { target: session.target.name });
      }
    },
    wake() {
      for (const s of sessions.values()) s.wake();
    },
    connected: () => [...sessions.keys()],
    async stop() {
      stopping = true;
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(all.map((s) => s.end(LISTEN_CLOSE.shuttingDown, "relay shutting down")));
    },
  };
}
