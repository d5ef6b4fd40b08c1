/**
 * The relay's connected `hookrelay listen` clients: at most one session per
 * listen target in this process, and the transport that hands a listen
 * target's attempts to it. A new connection replaces the old one (the old
 * socket is closed with 4009 "replaced"; a delivery waiting for its ack goes
 * back to the queue): a laptop that changed networks reconnects before its
 * old half-open socket times out, and refusing it would lock it out until
 * then. Two relay processes on one store each allow one client, but the
 * store's lease still hands every delivery to one of them at a time, in order.
 */
import type { TargetConfig } from "../config/types.ts";
import { LISTEN_CLOSE, type AckMessage } from "../core/listen-protocol.ts";
import type { Logger } from "../log/logger.ts";
import { ListenSession, type ListenSocket } from "./listen-session.ts";
import type { Transport } from "./transport.ts";

/** Options of `createListenHub`; defaults suit production. */
export interface ListenHubOptions {
  targets: TargetConfig[];
  log: Logger;
  /** Time beyond a target's timeout that a client gets to ack. Default 15 s. */
  ackMarginMs?: number;
  /** Heartbeat period to connected clients. Default LISTEN_PING_MS. */
  pingMs?: number;
  /** A client connected: its target can take a delivery (the scheduler looks now). */
  onIdle?: () => void;
  /** A client connected to `target` (after onIdle): its deliveries waiting for a retry may go now. */
  onConnected?: (target: string) => void;
  /** Clock of the connection times (admin API). Default Date.now. */
  nowMs?: () => number;
}

/** Whether a listen target has a client in this process: connected since when and from where, else gone since when (null: never came). */
export interface ListenStatus {
  connected: boolean;
  sinceMs: number | null;
  remoteAddr: string | null;
}

/** The sessions of one relay process. */
export interface ListenHub {
  /** The listen target called `name`, or null. */
  target(name: string): TargetConfig | null;
  /** False once stopping: new connections are refused. */
  accepting(): boolean;
  /** Starts a session for an upgraded socket from `remoteAddr`, replacing the target's current one; null (socket closed) when stopping. */
  open(target: string, socket: ListenSocket, remoteAddr?: string | null): ListenSession | null;
  /** Hands a client's ack to its session. */
  receive(session: ListenSession, ack: AckMessage): void;
  /** The socket closed: a delivery waiting for its ack goes back to the queue. */
  close(session: ListenSession): void;
  /** The longest a delivery may wait for its client's ack: the target's timeout plus the ack margin. */
  ackTimeoutMs(target: TargetConfig): number;
  /** True while `target` has a connected client with no delivery waiting for its ack. */
  idle(target: string): boolean;
  /** The transport of `target`'s attempts: its current session. */
  transport(target: string): Transport;
  /** Names of targets with a connected client. */
  connected(): string[];
  /**
   * Takes the listen targets of a reloaded config. A client whose target is
   * gone or whose token changed is disconnected (1012, "reconnect"): it must
   * authenticate against the new config; a delivery waiting for its ack goes
   * back to the queue. Other sessions carry on.
   */
  setTargets(targets: TargetConfig[]): void;
  /** The client of `target` as the admin side shows it. */
  status(target: string): ListenStatus;
  /** Refuses new connections and closes every session. */
  stop(): Promise<void>;
}

/** Creates the hub for the config's listen targets. */
export function createListenHub(opts: ListenHubOptions): ListenHub {
  const listenTargets = (all: TargetConfig[]) => new Map(all.filter((t) => t.kind === "listen").map((t) => [t.name, t]));
  let targets = listenTargets(opts.targets);
  const sessionOptions = { log: opts.log, ackMarginMs: opts.ackMarginMs ?? 15_000, pingMs: opts.pingMs };
  const sessions = new Map<string, ListenSession>();
  // Per target: the current client's connection, or when the last one went.
  const seen = new Map<string, ListenStatus>();
  const nowMs = opts.nowMs ?? Date.now;
  let stopping = false;
  // The target's client is gone: the admin side shows since when none is.
  const forget = (name: string, message: string) => {
    sessions.delete(name);
    seen.set(name, { connected: false, sinceMs: nowMs(), remoteAddr: seen.get(name)?.remoteAddr ?? null });
    opts.log.info(message, { target: name });
  };

  return {
    target: (name) => targets.get(name) ?? null,
    accepting: () => !stopping,
    open(name, socket, remoteAddr = null) {
      const t = targets.get(name);
      if (!t) throw new Error(`not a listen target: ${name}`);
      if (stopping) {
        socket.close(LISTEN_CLOSE.shuttingDown, "relay shutting down");
        return null;
      }
      const old = sessions.get(name);
      if (old) {
        opts.log.warn("listen client replaced by a newer connection", { target: name });
        old.end(LISTEN_CLOSE.replaced, "replaced by a newer connection");
      }
      const session = new ListenSession(sessionOptions, t, socket);
      sessions.set(name, session);
      seen.set(name, { connected: true, sinceMs: nowMs(), remoteAddr });
      opts.log.info("listen client connected", { target: name, remote: remoteAddr });
      opts.onIdle?.();
      opts.onConnected?.(name);
      return session;
    },
    receive: (session, ack) => session.receive(ack),
    close(session) {
      session.end();
      if (sessions.get(session.target.name) === session) forget(session.target.name, "listen client disconnected");
    },
    ackTimeoutMs: (t) => t.timeoutMs + sessionOptions.ackMarginMs,
    idle: (name) => sessions.get(name)?.idle() ?? false,
    transport: (name) => ({
      send: (a) =>
        sessions.get(name)?.deliver(a) ??
        Promise.resolve({ result: { kind: "not-sent", reason: "no listen client connected" }, durationMs: 0, excerpt: null, request: null }),
    }),
    connected: () => [...sessions.keys()],
    setTargets(all) {
      targets = listenTargets(all);
      for (const [name, session] of sessions) {
        const now = targets.get(name);
        // The same token: the client stays, under the target's new settings (its timeout among them).
        if (now && now.token === session.target.token) {
          session.reconfigure(now);
          continue;
        }
        forget(name, "listen client disconnected: its target changed in the reloaded config");
        // 1012 (service restart): the client reconnects, and is checked against the new config.
        session.end(1012, "target reconfigured; reconnect");
      }
    },
    status: (name) => seen.get(name) ?? { connected: false, sinceMs: null, remoteAddr: null },
    async stop() {
      stopping = true;
      const all = [...sessions.values()];
      sessions.clear();
      for (const s of all) s.end(LISTEN_CLOSE.shuttingDown, "relay shutting down");
    },
  };
}
