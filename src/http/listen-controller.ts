/**
 * `GET /listen/<target>` on the public listener: the WebSocket that a
 * `hookrelay listen` client opens (docs/LISTEN.md). The upgrade request must
 * carry `Authorization: Bearer <target token>`, checked in constant time
 * before the upgrade: unknown or push target → 404, missing or wrong token →
 * 401, relay stopping → 503. The same route without an upgrade answers the
 * same checks, then 426: the client's preflight, because a browser-style
 * WebSocket client cannot see why an upgrade was refused.
 */
import { Elysia } from "elysia";
import { parseListenMessage } from "../core/listen-protocol.ts";
import type { ListenHub } from "../delivery/listen-hub.ts";
import type { ListenSession } from "../delivery/listen-session.ts";
import type { Logger } from "../log/logger.ts";
import { secretsEqual } from "./auth.ts";
import { errorResponse, HttpError } from "./http-error.ts";

/** Why a listen connection is refused, or null when it may proceed. */
export function refuseListen(hub: ListenHub, name: string, authorization: string | null): HttpError | null {
  const target = hub.target(name);
  if (!target || target.token === null) return new HttpError(404, "unknown_target", `no listen target named "${name}"`);
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!match || !secretsEqual(match[1]!.trim(), target.token)) {
    return new HttpError(401, "unauthorized", "missing or wrong listen token", { "www-authenticate": "Bearer" });
  }
  if (!hub.accepting()) return new HttpError(503, "shutting_down", "relay is shutting down; reconnect later", { "retry-after": "5" });
  return null;
}

/** Elysia instance serving the listen WebSocket and its preflight. */
export function listenController(opts: { hub: ListenHub; log: Logger }) {
  const { hub, log } = opts;
  // Elysia hands each callback its own wrapper; the connection id is stable.
  const sessions = new Map<string, ListenSession>();
  return new Elysia({ name: "listen" })
    .onError(({ error }) => errorResponse(error))
    .get("/listen/:target", ({ params, request }) => {
      const refused = refuseListen(hub, params.target, request.headers.get("authorization"));
      return errorResponse(refused ?? new HttpError(426, "upgrade_required", "open this URL as a WebSocket", { upgrade: "websocket" }));
    })
    .ws("/listen/:target", {
      beforeHandle({ params, request }) {
        const refused = refuseListen(hub, params.target, request.headers.get("authorization"));
        if (refused) throw refused;
      },
      open(ws) {
        const target = (ws.data.params as { target: string }).target;
        const session = hub.open(target, {
          send: (text) => void ws.send(text),
          close: (code, reason) => ws.close(code, reason),
        });
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
