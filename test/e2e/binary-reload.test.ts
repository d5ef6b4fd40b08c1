/**
 * Reload without restart, on the compiled binary: SIGHUP and POST /api/reload
 * re-read the config file while signed requests keep arriving; every one is
 * answered 200, a new source starts answering, an invalid file changes
 * nothing, a rotated secret and a moved target apply at once.
 */
import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDir("hookrelay-reload-e2e-");
afterAll(() => tmp.remove());
// Each test its own store: deliveries a previous test's relay left pending would go to the next test's target.
function ownDir(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const WHSEC = `whsec_${Buffer.alloc(24, 3).toString("base64")}`;

function configText(o: { sources: { name: string; secret: string }[]; targetUrl: string; listen?: string; extra?: string }): string {
  return `
[server]
listen = "${o.listen ?? "127.0.0.1:0"}"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
${o.sources.map((s) => `
[[sources]]
name = "${s.name}"
verify = { scheme = "hmac", header = "X-Sig", secret = "${s.secret}" }
event_type = "$.type"
[[routes]]
from = "${s.name}"
to = ["t"]
`).join("")}
[[targets]]
name = "t"
url = "${o.targetUrl}"
signing = { secret = "${WHSEC}" }
retry = { schedule = ["0s", "1s"], jitter = 0 }
${o.extra ?? ""}
`;
}

const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("hex");
const post = (relay: RunningBinary, source: string, secret: string, body: string) =>
  fetch(`${relay.publicUrl}/in/${source}`, { method: "POST", body, headers: { "content-type": "application/json", "x-sig": sign(secret, body) } });
const reloadApi = (relay: RunningBinary) => fetch(`${relay.adminUrl}/api/reload`, { method: "POST", headers: { "x-requested-with": "test" } });
const metric = async (relay: RunningBinary, name: string) => {
  const text = await (await fetch(`${relay.adminUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
};

function receiver() {
  const got: { body: string }[] = [];
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { got.push({ body: await req.text() }); return new Response("ok"); } });
  return { got, url: `http://127.0.0.1:${server.port}/hook`, stop: () => server.stop(true) };
}

test("under a steady stream of signed requests, SIGHUP adds a source and an invalid file changes nothing; every request is answered 200", async () => {
  const rx = receiver();
  const dir = ownDir("stream");
  const cfg = join(dir, "stream.toml");
  writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "secret-a" }], targetUrl: rx.url }));
  const relay = await startBinary(["serve", "--config", cfg], dir);
  const statuses: number[] = [];
  let streaming = true;
  // Four senders in a loop, bounded in count: the reloads happen while they send.
  const senders = Array.from({ length: 4 }, async (_, k) => {
    for (let i = 0; streaming && i < 5000; i++) {
      const res = await post(relay, "a", "secret-a", JSON.stringify({ type: "x", k, i }));
      statuses.push(res.status);
      await res.arrayBuffer();
    }
  });
  try {
    await waitFor("some requests stored", () => statuses.length >= 20);
    expect((await fetch(`${relay.publicUrl}/in/b`, { method: "POST", body: "{}" })).status).toBe(404);

    writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "secret-a" }, { name: "b", secret: "secret-b" }], targetUrl: rx.url }));
    relay.proc.kill("SIGHUP");
    await waitFor("source b answering", async () => (await post(relay, "b", "secret-b", '{"type":"b"}')).status === 200);
    await waitFor("the reload logged", () => relay.logs().includes('"msg":"config reloaded"'));
    const line = relay.logs().split("\n").find((l) => l.includes('"msg":"config reloaded"'))!;
    expect(JSON.parse(line)).toMatchObject({ sources: { added: ["b"], removed: [], changed: [] }, routes: { added: ["b → t"], removed: [] } });
    expect(line).not.toContain("secret-b");

    // Invalid: a bad CIDR and an unknown key. The old config keeps serving.
    writeFileSync(cfg, `${configText({ sources: [{ name: "a", secret: "secret-a" }], targetUrl: rx.url })}\n[server2]\nx = 1\n`.replace('name = "a"\n', 'name = "a"\nallow_ips = ["10.0.0.0/33"]\n'));
    const before = statuses.length;
    relay.proc.kill("SIGHUP");
    await waitFor("the failed reload logged", () => relay.logs().includes('"msg":"config reload failed"'));
    const failed = JSON.parse(relay.logs().split("\n").find((l) => l.includes('"msg":"config reload failed"'))!);
    expect(failed.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^sources\[0\]\.allow_ips\[0\]: /), expect.stringMatching(/^server2: unknown key/)]));

    const api = await reloadApi(relay);
    expect(api.status).toBe(400);
    const answer = (await api.json()) as { error: { code: string; problems: string[] } };
    expect(answer.error.code).toBe("invalid_config");
    expect(answer.error.problems).toHaveLength(2);
    expect((await post(relay, "b", "secret-b", '{"type":"b"}')).status).toBe(200);
    // An empty file (read while `cp` was writing it) would take every source away: refused.
    writeFileSync(cfg, "");
    const empty = await reloadApi(relay);
    expect(empty.status).toBe(400);
    const emptyAnswer = (await empty.json()) as { error: { problems: string[] } };
    expect(emptyAnswer.error.problems[0]).toStartWith("sources: the new config has none, and the running one has 2: refused");
    expect((await post(relay, "a", "secret-a", '{"type":"a"}')).status).toBe(200);
    await waitFor("more requests after the failed reloads", () => statuses.length >= before + 20);

    expect(await metric(relay, "hookrelay_config_reloads_total")).toBe(1);
    expect(await metric(relay, "hookrelay_config_reload_failures_total")).toBe(3);
  } finally {
    streaming = false;
    await Promise.all(senders);
    await relay.stop();
    rx.stop();
  }
  expect(statuses.length).toBeGreaterThan(40);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
}, 60_000);

test("POST /api/reload: a rotated source secret works at once, and a target's new URL gets the next attempt", async () => {
  const [first, second] = [receiver(), receiver()];
  const dir = ownDir("rotate");
  const cfg = join(dir, "rotate.toml");
  writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "old-secret" }], targetUrl: first.url }));
  const relay = await startBinary(["serve", "--config", cfg], dir);
  try {
    expect((await post(relay, "a", "old-secret", '{"type":"one"}')).status).toBe(200);
    await waitFor("delivered to the first receiver", () => first.got.length === 1);

    writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "new-secret" }], targetUrl: second.url }));
    const res = await reloadApi(relay);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ reloaded: true, restartNeeded: [], sources: { changed: ["a"] }, targets: { changed: ["t"] } });
    expect(JSON.stringify(body)).not.toContain("new-secret");

    expect((await post(relay, "a", "new-secret", '{"type":"two"}')).status).toBe(200);
    expect((await post(relay, "a", "old-secret", '{"type":"three"}')).status).toBe(401);
    await waitFor("delivered to the second receiver", () => second.got.length === 1);
    expect(second.got[0]!.body).toBe('{"type":"two"}');
    expect(first.got).toHaveLength(1);
  } finally {
    await relay.stop();
    first.stop();
    second.stop();
  }
}, 30_000);

test("a reload applies a new log_level at once: debug lines start, and stop again", async () => {
  const rx = receiver();
  const dir = ownDir("loglevel");
  const cfg = join(dir, "loglevel.toml");
  const text = (level: string) => `log_level = "${level}"\n${configText({ sources: [{ name: "a", secret: "s" }], targetUrl: rx.url })}`;
  writeFileSync(cfg, text("info"));
  const relay = await startBinary(["serve", "--config", cfg], dir);
  const duplicates = () => relay.logs().split("\n").filter((l) => l.includes('"msg":"duplicate"')).length;
  const body = '{"type":"x","n":1}';
  try {
    expect((await post(relay, "a", "s", body)).status).toBe(200);
    expect((await post(relay, "a", "s", body)).status).toBe(200); // a duplicate: a debug line, not written at info
    writeFileSync(cfg, text("debug"));
    const res = await reloadApi(relay);
    expect(await res.json()).toMatchObject({ reloaded: true, restartNeeded: [], settings: ["log_level"] });
    expect((await post(relay, "a", "s", body)).status).toBe(200);
    await waitFor("the duplicate's debug line", () => duplicates() === 1);
    writeFileSync(cfg, text("info"));
    expect((await reloadApi(relay)).status).toBe(200);
    expect((await post(relay, "a", "s", body)).status).toBe(200);
    await Bun.sleep(200);
    expect(duplicates()).toBe(1);
  } finally {
    await relay.stop();
    rx.stop();
  }
}, 30_000);

test("a reload logs a config warning only when it is new: one standing since the start is not said again at every reload", async () => {
  const rx = receiver();
  const dir = ownDir("warnings");
  const cfg = join(dir, "warnings.toml");
  const unsigned = (name: string) => `[[targets]]\nname = "${name}"\nurl = "${rx.url}"\n[[routes]]\nfrom = "a"\nto = ["${name}"]\n`;
  writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "s" }], targetUrl: rx.url, extra: unsigned("plain") }));
  const relay = await startBinary(["serve", "--config", cfg], dir);
  const said = () => relay.logs().split("\n").filter((l) => l.includes('"msg":"config warning"')).map((l) => JSON.parse(l).warning as string);
  try {
    await waitFor("the start's warning", () => said().length === 1);
    for (let i = 0; i < 3; i++) expect((await reloadApi(relay)).status).toBe(200);
    expect(said()).toHaveLength(1);
    // A new one is said; the standing one still not.
    writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "s" }], targetUrl: rx.url, extra: unsigned("plain") + unsigned("other") }));
    expect((await reloadApi(relay)).status).toBe(200);
    await waitFor("the new warning", () => said().length === 2);
    expect(said()[1]).toContain("targets[2].signing");
  } finally {
    await relay.stop();
    rx.stop();
  }
}, 30_000);

test("a reload that changes the listen address applies the rest and says a restart is needed", async () => {
  const rx = receiver();
  const dir = ownDir("listen");
  const cfg = join(dir, "listen.toml");
  writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "s" }], targetUrl: rx.url }));
  const relay = await startBinary(["serve", "--config", cfg], dir);
  try {
    writeFileSync(cfg, configText({ sources: [{ name: "a", secret: "s" }, { name: "c", secret: "s" }], targetUrl: rx.url, listen: "127.0.0.1:1" }));
    const res = await reloadApi(relay);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ reloaded: true, restartNeeded: ["server.listen"], sources: { added: ["c"] } });
    expect((await post(relay, "c", "s", "{}")).status).toBe(200);
    await waitFor("the restart warning logged", () => relay.logs().includes("server.listen"));
  } finally {
    await relay.stop();
    rx.stop();
  }
}, 30_000);

test("a reload signal while the relay is still starting neither ends it nor is lost: it is carried out once the relay listens", async () => {
  const target = receiver();
  const { BINARY } = await import("../support/binary.ts");
  try {
    // From ~0.15 s: before that the runtime is still loading the binary, before any code of ours runs.
    for (const delayMs of [150, 300, 600]) {
      const dir = ownDir(`early-hup-${delayMs}`);
      writeFileSync(join(dir, "relay.toml"), configText({ sources: [{ name: "a", secret: "sa" }], targetUrl: target.url }));
      const proc = Bun.spawn([BINARY, "serve", "--config", "relay.toml"], { cwd: dir, env: { PATH: process.env.PATH ?? "" }, stdout: "ignore", stderr: "pipe" });
      await Bun.sleep(delayMs);
      proc.kill("SIGHUP");
      let log = "";
      const decoder = new TextDecoder();
      const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
      await waitFor("the relay to listen or exit", async () => {
        const { value, done } = await reader.read();
        if (value) log += decoder.decode(value, { stream: true });
        return done || log.includes('"msg":"listening"');
      }, 15_000);
      expect([delayMs, proc.exitCode, log.includes('"msg":"listening"')]).toEqual([delayMs, null, true]);
      const publicAddr = (JSON.parse(log.split("\n").find((l) => l.includes('"msg":"listening"'))!) as { public: string }).public;
      const res = await fetch(`http://${publicAddr}/in/a`, { method: "POST", body: "{}", headers: { "x-sig": sign("sa", "{}") } });
      expect([delayMs, res.status]).toEqual([delayMs, 200]);
      proc.kill("SIGTERM");
      for (;;) {
        const { value, done } = await reader.read();
        if (value) log += decoder.decode(value, { stream: true });
        if (done) break;
      }
      expect(await proc.exited).toBe(0);
      // Held while starting, or taken as any reload once listening: carried out either way.
      if (delayMs === 600) expect(log).toContain('"msg":"config reloaded"');
    }
  } finally {
    target.stop();
  }
}, 60_000);
