/**
 * `GET /listen/<target>` on the public listener: the WebSocket that a
 * `hookrelay listen` client opens (docs/LISTEN.md). The upgrade request must
 * carry `Authorization: Bearer <target token>`, checked in constant time
 * before the upgrade: an unknown or push target, a missing or wrong token all
 * get the same 401 (so the public port does not tell which names exist), and
 * count as failed attempts of the client's address (failed-auth-limiter.ts:
 * past a few, 429); relay stopping → 503. The same route without an upgrade
 * answers the same checks, then 426: the client's preflight, because a
 * browser-style WebSocket client cannot see why an upgrade was refused.
 */
import { randomBytes } from "node:crypto";
import { Elysia } from "elysia";
import { parseListenMessage } from "../core/listen-protocol.ts";
import type { ListenHub } from "../delivery/listen-hub.ts";
import type { ListenSession } from "../delivery/listen-session.ts";
import type { Logger } from "../log/logger.ts";
import { secretsEqual } from "./auth.ts";
import { requestClientKey, tooManyAttempts, type FailedAuthLimiter } from "./failed-auth-limiter.ts";
import { errorResponse, HttpError } from "./http-error.ts";

// What a name without a token is compared against, so that it costs what a wrong token costs; nothing sent can match it.
const NO_TOKEN = randomBytes(32).toString("base64url");

/** Why a listen connection from client address `addr` is refused, or null when it may proceed. */
export function refuseListen(hub: ListenHub, limiter: FailedAuthLimiter, name: string, authorization: string | null, addr: string): HttpError | null {
  const wait = limiter.retryAfterSec(addr);
  if (wait > 0) return tooManyAttempts(wait);
  const token = hub.target(name)?.token ?? null;
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim() ?? null;
  const matches = secretsEqual(given ?? "", token ?? NO_TOKEN);
  if (!matches || token === null || given === null) {
    limiter.recordFailure(addr, `listen:${name}`);
    return new HttpError(401, "unauthorized", "no listen target of that name, or a missing or wrong token", { "www-authenticate": "Bearer" });
  }
  limiter.recordSuccess(addr, `listen:${name}`);
  if (!hub.accepting()) return new HttpError(503, "shutting_down", "relay is shutting down; reconnect later", { "retry-after": "5" });
  return null;
}

/** Elysia instance serving the listen WebSocket and its preflight. */
export function listenController(opts: { hub: ListenHub; limiter: FailedAuthLimiter; log: Logger }) {
  const { hub, limiter, log } = opts;
  const refuse = (name: string, request: Request, addr: string) => refuseListen(hub, limiter, name, request.headers.get("authorization"), addr);
  // Elysia hands each callback its own wrapper; the connection id is stable.
  const sessions = new Map<string, ListenSession>();
  return new Elysia({ name: "listen" })
    .onError(({ error }) => errorResponse(error))
    .get("/listen/:target", ({ params, request, server }) => {
      const refused = refuse(params.target, request, requestClientKey(server, request));
      return errorResponse(refused ?? new HttpError(426, "upgrade_required", "open this URL as a WebSocket", { upgrade: "websocket" }));
    })
    .ws("/listen/:target", {
      beforeHandle({ params, request, server }) {
        const refused = refuse(params.target, request, requestClientKey(server, request));
        if (refused) throw refused;
      },
      open(ws) {
        const target = (ws.data.params as { target: string }).target;
        const session = hub.open(
          target,
          {
            send: (text) => void ws.send(text),
            close: (code, reason) => ws.close(code, reason),
          },
          ws.remoteAddress || null,
        );
        if (session) sessions.set(ws.id, session);
      },
      message(ws, frame) {
        const session = sessions.get(ws.id);
        const msg = parseListenMessage(frame);
        if (!session) return;
        if (msg?.type === "ack") hub.receive(session, msg);
        else log.warn("listen client sent a malformed frame", { target: session.target.name });
      },
      close(ws) {
        const session = sessions.get(ws.id);
        sessions.delete(ws.id);
        if (session) hub.close(session);
      },
    });
}
