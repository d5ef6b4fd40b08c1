/**
 * Throwaway PostgreSQL clusters for tests and benchmarks: initdb into a temp
 * dir and pg_ctl start on a free port on 127.0.0.1 (as the `postgres` user
 * when we are root: initdb refuses root). Debian's `postgresql` package puts
 * the programs in /usr/lib/postgresql/<version>/bin, off the PATH.
 */
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";

/** Where initdb and pg_ctl are, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], "bin");
  }
  const onPath = Bun.which("initdb");
  return onPath ? join(onPath, "..") : null;
}

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:PORT/ — append a database name. */
  baseUrl: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops the server and keeps its data: the database goes away (connection-loss tests). */
  stopServer(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts the stopped server again, on the same port and data. */
  startServer(): Promise<void>;
  /** Freezes the server and every backend (SIGSTOP): connections stay open, nothing answers (a hung host, a cut network). */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

function asPostgres(cmd: string[]): string[] {
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
}

async function run(cmd: string[], what: string): Promise<void> {
  const p = Bun.spawn(asPostgres(cmd), { stdout: "pipe", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${what} failed (${code}): ${await new Response(p.stderr).text()}${await new Response(p.stdout).text()}`);
}

/** Starts a fresh cluster (fsync on, as in production). */
export async function startPgCluster(opts: { settings?: Record<string, string> } = {}): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-pg-"));
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) {
    const pw = Bun.spawnSync(["id", "-u", "postgres"]);
    const gr = Bun.spawnSync(["id", "-g", "postgres"]);
    chownSync(dir, Number(pw.stdout.toString()), Number(gr.stdout.toString()));
  }
  const data = join(dir, "data");
  await run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], "initdb");
  const port = await freePort();
  const settings = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    max_connections: "400",
    ...opts.settings,
  };
  const o = ["-p", String(port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])].join(" ");
  const start = () => run([join(bin, "pg_ctl"), "-D", data, "-o", o, "-l", join(dir, "log"), "-w", "-t", "60", "start"], "pg_ctl start");
  await start();
  const baseUrl = `postgres://postgres@127.0.0.1:${port}/`;
  return {
    baseUrl,
    port,
    dir,
    async stop() {
      await run([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], "pg_ctl stop").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
    stopServer: (mode = "fast") => run([join(bin, "pg_ctl"), "-D", data, "-m", mode, "-w", "stop"], "pg_ctl stop"),
    startServer: start,
    freeze: () => signalServer(data, "STOP"),
    thaw: () => signalServer(data, "CONT"),
  };
}

/** Sends `signal` to the server's postmaster and every process it started. */
function signalServer(data: string, signal: "STOP" | "CONT"): void {
  const postmaster = readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]!.trim();
  const children = Bun.spawnSync(["pgrep", "-P", postmaster]).stdout.toString().split("\n").filter(Boolean);
  Bun.spawnSync(["kill", `-${signal}`, postmaster, ...children]);
}

let counter = 0;

/** Creates an empty database on the cluster at `baseUrl`; `drop` removes it (closing any connection left). */
export async function createDatabase(baseUrl: string, prefix = "t"): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new SQL(`${baseUrl}postgres`);
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return {
    url: `${baseUrl}${name}`,
    async drop() {
      const a = new SQL(`${baseUrl}postgres`);
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.close();
      }
    },
  };
}
