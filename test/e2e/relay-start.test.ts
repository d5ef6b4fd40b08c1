/**
 * What `serve` and `dev` make sure of as they start. A second relay pointed at
 * the ports of a running one refuses to start (Elysia's listen turns on
 * SO_REUSEPORT, which let both processes bind the same ports and split the
 * requests between two stores). The store, which holds every raw request, is
 * created readable by the relay's own user only.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { makeId } from "../../src/core/ids.ts";
import { join } from "node:path";
import { startRelay } from "../../src/cli/start-relay.ts";
import { loadConfig } from "../../src/config/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { adminJson, openStoreFile, relayToml, runBinary, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(): string {
  const tmp = scratchDir("hookrelay-start-");
  cleanups.push(tmp.remove);
  return tmp.dir;
}

/** Ports that were free a moment ago (held together, so they differ). */
function freePorts(n: number): number[] {
  const servers = Array.from({ length: n }, () => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() }));
  const ports = servers.map((s) => s.port!);
  for (const s of servers) s.stop(true);
  return ports;
}

/** `bin`, stopped after the test if it is still running. */
function tracked(bin: RunningBinary): RunningBinary {
  cleanups.push(() => (bin.proc.exitCode === null ? bin.stop() : undefined));
  return bin;
}

/** The first relay, on fixed ports. */
async function firstRelay(publicPort: number, adminPort: number): Promise<RunningBinary> {
  return tracked(await serveBinary(dir(), relayToml({ listen: `127.0.0.1:${publicPort}`, adminListen: `127.0.0.1:${adminPort}` })));
}

/** PIDs listening on a local TCP port, from `ss` (null when ss is not installed). */
function listenerPids(port: number): number[] | null {
  if (!Bun.which("ss")) return null;
  const out = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`]).stdout.toString();
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort();
}

/** Every request reaches the first relay's store, and only its process listens on the ports. */
async function expectFirstServesAlone(first: RunningBinary, ports: number[]): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await sendEvent(first.publicUrl, JSON.stringify({ id: `alone_${i}`, type: "x" }));
    expect(r.status).toBe(200);
    ids.push(r.json.id!);
  }
  const listed = await adminJson<{ events: { id: string }[] }>(first.adminUrl, "/api/events");
  expect(listed.events.map((e) => e.id).sort()).toEqual(ids.sort());
  for (const port of ports) {
    const pids = listenerPids(port);
    if (pids !== null) expect(pids).toEqual([first.proc.pid]);
  }
}

test("a second serve on the ports of a running relay exits 1 with 'address in use' before opening its store, and the first keeps the ports alone", async () => {
  const [publicPort, adminPort] = freePorts(2) as [number, number];
  const first = await firstRelay(publicPort, adminPort);
  const second = dir();
  writeFileSync(join(second, "hookrelay.toml"), relayToml({ listen: `127.0.0.1:${publicPort}`, adminListen: `127.0.0.1:${adminPort}` }));
  const r = await runBinary(["serve", "--config", "hookrelay.toml"], second, 10_000);
  expect(r.code).toBe(1);
  // Named with the key that chose it: where to pick another.
  expect(r.stderr.split("\n")).toContain(`hookrelay: cannot listen on 127.0.0.1:${publicPort}: address in use (server.listen)`);
  expect(r.stderr).not.toContain('"msg":"listening"');
  expect(existsSync(join(second, "data"))).toBe(false);
  await expectFirstServesAlone(first, [publicPort, adminPort]);
  expect(await first.stop()).toBe(0);
}, 40_000);

test("dev on the public or the admin port of a running relay exits 1 naming that address, before creating its store", async () => {
  const [publicPort, adminPort, freePort] = freePorts(3) as [number, number, number];
  const first = await firstRelay(publicPort, adminPort);
  const forward = ["--forward-to", "http://127.0.0.1:9/hooks"];
  for (const [port, admin, taken, flag] of [
    [publicPort, freePort, publicPort, "--port"],
    [freePort, adminPort, adminPort, "--admin-port"],
  ] as const) {
    const cwd = dir();
    const r = await runBinary(["dev", ...forward, "--port", String(port), "--admin-port", String(admin)], cwd, 10_000);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")).toContain(`hookrelay: cannot listen on 127.0.0.1:${taken}: address in use (${flag})`);
    expect(r.stdout).not.toContain("Paste into the provider");
    expect(existsSync(join(cwd, ".hookrelay/hookrelay.db"))).toBe(false);
  }
  // The port the refused dev did not share is free again: nothing of it stayed behind.
  expect(listenerPids(freePort) ?? []).toEqual([]);
  await expectFirstServesAlone(first, [publicPort, adminPort]);
  expect(await first.stop()).toBe(0);
}, 40_000);

test("startRelay itself refuses a port held by a listener that allows sharing (SO_REUSEPORT) and releases the port it had bound", async () => {
  // The binary checks the ports before opening the store; this is the listen that follows (a port taken in between).
  const [publicPort] = freePorts(1) as [number];
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: true, fetch: () => new Response("holder") });
  cleanups.push(() => holder.stop(true));
  const cwd = dir();
  const loaded = loadConfig(relayToml({ listen: `127.0.0.1:${publicPort}`, adminListen: `127.0.0.1:${holder.port}` }), { env: {}, baseDir: cwd });
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const store = await openStoreFile(join(cwd, "relay.db"));
  cleanups.push(() => store.close());
  const relay = await startRelay({ config: loaded.config, store, log: silentLogger });
  if (relay.ok) await relay.stop();
  expect(relay).toEqual({ ok: false, error: `cannot listen on 127.0.0.1:${holder.port}: address in use` });
  expect(await (await fetch(`http://127.0.0.1:${holder.port}/`)).text()).toBe("holder");
  Bun.serve({ hostname: "127.0.0.1", port: publicPort, reusePort: false, fetch: () => new Response() }).stop(true);
});

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** The modes of a store file, its WAL and shared-memory files and their directory. */
function storeModes(db: string) {
  return { dir: modeOf(join(db, "..")), db: modeOf(db), wal: modeOf(`${db}-wal`), shm: modeOf(`${db}-shm`) };
}

test("serve on a fresh directory creates the store directory 0700 and the store, -wal and -shm files 0600", async () => {
  const cwd = dir();
  const bin = tracked(await serveBinary(cwd, relayToml({ storeUrl: "file:./data/relay.db" })));
  expect(storeModes(join(cwd, "data/relay.db"))).toEqual({ dir: "700", db: "600", wal: "600", shm: "600" });
  expect(await bin.stop()).toBe(0);
});

test("serve says when it created a new store, and names the store file by its full path: a relay started in the wrong directory shows it", async () => {
  const cwd = dir();
  const file = join(realpathSync(cwd), "data/relay.db");
  const lines = (b: RunningBinary) => b.logs().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  const first = tracked(await serveBinary(cwd, relayToml({ storeUrl: "file:./data/relay.db" })));
  expect(lines(first).find((l) => l.msg === "new store created")).toMatchObject({ level: "info", store: file });
  expect(lines(first).find((l) => l.msg === "listening")).toMatchObject({ store: file });
  expect(await first.stop()).toBe(0);
  // Started again on it: nothing new to say.
  const again = tracked(await serveBinary(cwd, relayToml({ storeUrl: "file:./data/relay.db" })));
  expect(lines(again).map((l) => l.msg)).not.toContain("new store created");
  expect(lines(again).map((l) => l.msg)).not.toContain("store schema updated");
  expect(await again.stop()).toBe(0);
});

test("dev on a fresh directory creates ./.hookrelay 0700 and the store, -wal and -shm files 0600", async () => {
  const cwd = dir();
  const bin = tracked(await startBinary(["dev", "--forward-to", "http://127.0.0.1:9/hooks", "--port", "0", "--admin-port", "0"], cwd));
  expect(storeModes(join(cwd, ".hookrelay/hookrelay.db"))).toEqual({ dir: "700", db: "600", wal: "600", shm: "600" });
  expect(modeOf(join(cwd, ".hookrelay/signing-secret"))).toBe("600");
  expect(await bin.stop()).toBe(0);
});

test("a target the config disables has its old queue paused before the alert watch first looks: no stale-queue alert at start", async () => {
  const d = dir();
  // A store holding deliveries to "held" pending for five minutes, as an import into a new store leaves them.
  mkdirSync(join(d, "data"));
  const store = await openStoreFile(join(d, "data", "relay.db"));
  const at = Date.now() - 5 * 60_000;
  for (let i = 0; i < 3; i++) {
    const id = makeId("evt", at + i, crypto.getRandomValues(new Uint8Array(10)));
    await store.writer.submit({
      id, source: "p", eventType: "x", dedupeKey: id, dedupeWindowMs: 0, receivedAt: at + i, method: "POST", path: "/in/p", query: "",
      headers: [], body: new TextEncoder().encode("{}"), contentType: "application/json", remoteAddr: null,
      deliveries: [{ id: makeId("dlv", at + i, crypto.getRandomValues(new Uint8Array(10))), target: "held", status: "pending" }],
    });
  }
  await store.close();
  const toml = relayToml({
    targets: [{ name: "held", url: "http://127.0.0.1:9/" }, { name: "ops", url: "http://127.0.0.1:9/" }],
    extra: '[alerts]\nto = ["ops"]\nstale_after = "1m"',
  }).replace('name = "held"', 'name = "held"\nenabled = false');
  const bin = tracked(await serveBinary(d, toml));
  // The first check runs as the relay starts; a second one five seconds on would resolve a false one.
  await Bun.sleep(1500);
  const alerts = await adminJson<{ events: { eventType: string }[] }>(bin.adminUrl, "/api/events?source=hookrelay");
  expect(alerts.events.map((e) => e.eventType)).not.toContain("queue.stale");
  expect(await bin.stop()).toBe(0);
});
