/**
 * Why a PostgreSQL server could not be reached, in words an operator can act
 * on. Bun's client says "Failed to connect" whether the host name does not
 * resolve, nothing listens on the port or the host does not answer; asked
 * once, when opening the store has failed, so it costs a healthy start
 * nothing.
 */
import { lookup } from "node:dns/promises";
import { existsSync } from "node:fs";
import { connect } from "node:net";

/** Where a URL (and the standard PG variables, for what it leaves out) points. */
export function serverAddressOf(url: string, env: Record<string, string | undefined> = process.env): { host: string; port: number } {
  let host = "";
  let port = "";
  try {
    const u = new URL(url);
    host = decodeURIComponent(u.hostname);
    host ||= u.searchParams.get("host") ?? "";
    port = u.port || (u.searchParams.get("port") ?? "");
  } catch {
    // Not a URL the driver took either; the variables and defaults below are all there is.
  }
  return { host: host || env.PGHOST || "localhost", port: Number(port || env.PGPORT || 5432) };
}

/** One sentence: what a connection attempt to `url`'s server finds, or null when it finds the port open. */
export async function whyNoConnection(url: string, timeoutMs: number): Promise<string | null> {
  const { host, port } = serverAddressOf(url);
  if (host.startsWith("/")) {
    const socket = `${host}/.s.PGSQL.${port}`;
    return existsSync(socket) ? null : `no server socket ${socket} (is the server running, on port ${port}?)`;
  }
  let address: string;
  try {
    address = (await lookup(host)).address;
  } catch (e) {
    return `the host name ${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const where = address === host ? `${host}:${port}` : `${host}:${port} (${address})`;
  return await new Promise<string | null>((resolve) => {
    const socket = connect({ host: address, port });
    const done = (why: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`${where} did not answer within ${Math.round(timeoutMs / 1000)} s (a firewall, or the wrong host?)`), timeoutMs);
    socket.once("connect", () => done(null));
    socket.once("error", (e: NodeJS.ErrnoException) =>
      done(e.code === "ECONNREFUSED" ? `nothing listens on ${where} (connection refused: is the server running, on that port?)` : `${where}: ${e.code ?? e.message}`),
    );
  });
}
