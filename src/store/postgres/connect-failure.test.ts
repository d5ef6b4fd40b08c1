import { expect, test } from "bun:test";
import { createServer } from "node:net";
import { serverAddressOf, whyNoConnection } from "./connect-failure.ts";

test("the server address comes from the URL, then the PG variables, then libpq's defaults", () => {
  expect(serverAddressOf("postgres://u@db.internal:6543/x", {})).toEqual({ host: "db.internal", port: 6543 });
  expect(serverAddressOf("postgres:///x", { PGHOST: "pg.local", PGPORT: "7000" })).toEqual({ host: "pg.local", port: 7000 });
  expect(serverAddressOf("postgres:///x?host=%2Fvar%2Frun%2Fpostgresql", {})).toEqual({ host: "/var/run/postgresql", port: 5432 });
  expect(serverAddressOf("postgres:///x", {})).toEqual({ host: "localhost", port: 5432 });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("a closed port, a name that does not resolve and a missing socket are told apart; an open port is not a reason", async () => {
  const closed = await freePort();
  expect(await whyNoConnection(`postgres://u@127.0.0.1:${closed}/x`, 2000)).toBe(
    `nothing listens on 127.0.0.1:${closed} (connection refused: is the server running, on that port?)`,
  );
  expect(await whyNoConnection("postgres://u@nosuchhost.invalid:5432/x", 2000)).toStartWith("the host name nosuchhost.invalid does not resolve (");
  expect(await whyNoConnection("postgres:///x?host=%2Ftmp%2Fno-such-dir&port=6001", 2000)).toBe(
    "no server socket /tmp/no-such-dir/.s.PGSQL.6001 (is the server running, on port 6001?)",
  );
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    expect(await whyNoConnection(`postgres://u@127.0.0.1:${(server.address() as { port: number }).port}/x`, 2000)).toBeNull();
  } finally {
    server.close();
  }
});
