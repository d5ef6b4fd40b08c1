/**
 * Binding the relay's listen addresses. A port is never shared with another
 * process: Elysia's listen turns SO_REUSEPORT on, which let a second relay bind
 * the same ports and take every other request into its own store. So the
 * listeners are opened with reusePort off, and the addresses are tried once
 * before the store is opened, so that a second relay stops before touching it.
 */
import type { ListenAddress } from "../config/types.ts";

/** "127.0.0.1:8080", "[::1]:8081". */
export const formatListenAddress = (a: ListenAddress): string => `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;

/** The one-line reason a listener could not be opened on `addr`. */
export function listenProblem(addr: ListenAddress, err: unknown): string {
  const code = (err as { code?: string })?.code;
  const why =
    code === "EADDRINUSE"
      ? "address in use"
      : code === "EADDRNOTAVAIL"
        ? "address not available on this machine"
        : code === "EACCES"
          ? "permission denied"
          : ((err as Error)?.message ?? String(err));
  return `cannot listen on ${formatListenAddress(addr)}: ${why}`;
}

/**
 * Binds and at once releases each fixed address (port 0 is always free);
 * Bun.listen leaves SO_REUSEPORT off, like our listeners. The first problem,
 * naming the setting that chose the address (where to pick another), or null.
 */
export function probeListenAddresses(addrs: { addr: ListenAddress; setting: string }[]): string | null {
  for (const { addr, setting } of addrs) {
    if (addr.port === 0) continue;
    try {
      Bun.listen({ hostname: addr.host, port: addr.port, socket: { data() {} } }).stop(true);
    } catch (err) {
      return `${listenProblem(addr, err)} (${setting})`;
    }
  }
  return null;
}
