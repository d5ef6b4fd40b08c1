/**
 * The client address of a request on either listener, behind trusted
 * proxies (core/client-address.ts): an `onRequest` hook resolves it once per
 * request from the runtime config in force, and `requestClientAddress` reads
 * it back wherever a handler needs it (the failed-auth limiter's key), so
 * handlers never parse forwarded headers themselves. Without trusted proxies
 * the hook does nothing and the peer's address is the client's.
 */
import { clientAddress } from "../core/client-address.ts";
import type { IpRanges } from "../core/ip-ranges.ts";

/** What Bun's server offers to tell who is calling. */
export interface RequestIPSource {
  requestIP(request: Request): { address: string } | null;
}

const resolved = new WeakMap<Request, string | null>();

/** An Elysia `onRequest` hook: the client address from the forwarded headers of a trusted peer, kept for the request. */
export function resolveClientAddress(trustedProxies: () => IpRanges | null) {
  return ({ request, server }: { request: Request; server: RequestIPSource | null }) => {
    const trusted = trustedProxies();
    if (trusted !== null) resolved.set(request, clientAddress(server?.requestIP(request)?.address ?? null, request.headers, trusted));
  };
}

/** The client's address: as resolved for this request behind a trusted proxy, else the peer's (null in memory). */
export function requestClientAddress(server: RequestIPSource | null | undefined, request: Request): string | null {
  return resolved.has(request) ? resolved.get(request)! : (server?.requestIP(request)?.address ?? null);
}
