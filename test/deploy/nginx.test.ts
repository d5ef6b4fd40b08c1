/**
 * deploy/nginx.conf in front of the compiled binary, as shipped: Debian's
 * nginx runs it (ports and paths templated, TLS off, a prefix, pid and logs
 * of its own in a temp dir, on loopback) and the relay trusts it as a proxy.
 * The stored address is the client's, a body of max_body passes, and
 * `hookrelay listen` works through the proxy's WebSocket upgrade. .ci/run
 * installs nginx; without it locally, the test is skipped with a message.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BINARY, startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { waitFor } from "../support/wait.ts";

const NGINX = ["/usr/sbin/nginx", Bun.which("nginx")].find((p) => p && Bun.file(p).size > 0) ?? null;
if (!NGINX) console.warn("SKIPPED test/deploy/nginx.test.ts: nginx is not installed (apt-get install -y nginx; .ci/run installs it)");

const tmp = tempDir("hookrelay-nginx-");
afterAll(() => tmp.remove());

const TOKEN = "listen-token-nginx-0123456789";
// nginx connects to the relay from this address (proxy_bind): the relay trusts it, and only it.
const PROXY_ADDR = "127.0.0.3";

/** A free loopback port (nginx needs a number in its config). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** deploy/nginx.conf with its ports, TLS and upstream address replaced, inside a minimal main config of its own. */
function nginxConfig(site: string, o: { port: number; relayPort: number; prefix: string }): string {
  const templated = site
    .replace("listen 443 ssl;", `listen 127.0.0.1:${o.port};`)
    .replace(/^\s*listen \[::\]:443 ssl;\n/m, "")
    .replace(/^\s*ssl_certificate(_key)? .*\n/gm, "")
    .replace("server 127.0.0.1:8080;", `server 127.0.0.1:${o.relayPort};`)
    .replace("proxy_http_version 1.1;", `proxy_http_version 1.1;\n    proxy_bind ${PROXY_ADDR};`);
  // Every part of the shipped file that the test depends on is still there.
  for (const kept of ["proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "client_max_body_size 1088k;", "proxy_read_timeout 75s;", `listen 127.0.0.1:${o.port};`, `proxy_bind ${PROXY_ADDR};`])
    expect(templated).toContain(kept);
  return `
daemon off;
master_process off;
pid ${o.prefix}/nginx.pid;
error_log ${o.prefix}/error.log warn;
events { worker_connections 64; }
http {
  access_log ${o.prefix}/access.log;
  client_body_temp_path ${o.prefix}/client_body;
  proxy_temp_path ${o.prefix}/proxy;
  fastcgi_temp_path ${o.prefix}/fastcgi;
  uwsgi_temp_path ${o.prefix}/uwsgi;
  scgi_temp_path ${o.prefix}/scgi;
${templated}
}
`;
}

test.skipIf(!NGINX)("through deploy/nginx.conf: the client's address is stored, a max_body body passes, and hookrelay listen connects", async () => {
  const got: { body: Uint8Array }[] = [];
  const local = Bun.serve({ hostname: "127.0.0.1", port: 0, async fetch(req) { got.push({ body: new Uint8Array(await req.arrayBuffer()) }); return new Response("ok"); } });
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
trusted_proxies = ["${PROXY_ADDR}/32"]
max_body = "1mb"
[store]
url = "file:./relay.db"
[[sources]]
name = "app"
verify = { scheme = "none" }
[[targets]]
name = "dev"
kind = "listen"
token = "${TOKEN}"
[[routes]]
from = "app"
to = ["dev"]
`,
  );
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  const prefix = join(tmp.dir, "nginx");
  mkdirSync(prefix);
  const port = await freePort();
  const conf = join(prefix, "nginx.conf");
  writeFileSync(conf, nginxConfig(readFileSync(join(import.meta.dir, "../../deploy/nginx.conf"), "utf8"), { port, relayPort: Number(new URL(relay.publicUrl).port), prefix }));
  const nginx = Bun.spawn([NGINX!, "-p", prefix, "-c", conf], { stdout: "pipe", stderr: "pipe" });
  let listen: ReturnType<typeof Bun.spawn> | null = null;
  const proxied = `http://127.0.0.1:${port}`;
  try {
    await waitFor("nginx answering", async () => (await fetch(`${proxied}/healthz`).catch(() => null))?.status === 200);

    // The client (127.0.0.1, with a forged hop) is what is stored, not nginx's 127.0.0.3.
    const body = new Uint8Array(1024 * 1024).fill(0x61);
    body.set(new TextEncoder().encode('{"a":"'));
    body.set(new TextEncoder().encode('"}'), body.length - 2);
    const res = await fetch(`${proxied}/in/app`, { method: "POST", body, headers: { "content-type": "application/json", "x-forwarded-for": "6.6.6.6" } });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const event = (await (await fetch(`${relay.adminUrl}/api/events/${id}`)).json()) as { remoteAddr: string; request: { bodyBytes: number } };
    expect(event).toMatchObject({ remoteAddr: "127.0.0.1", request: { bodyBytes: 1024 * 1024 } });
    // Past max_body, the relay itself answers 413 with its reason (nginx lets up to max_body + 64k through)…
    const over = await fetch(`${proxied}/in/app`, { method: "POST", body: new Uint8Array(1024 * 1024 + 1) });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("body_too_large");
    // …and past that, nginx does.
    expect((await fetch(`${proxied}/in/app`, { method: "POST", body: new Uint8Array(1100 * 1024) })).status).toBe(413);
    // Nothing but the public routes goes through.
    expect((await fetch(`${proxied}/api/events`)).status).toBe(404);

    listen = Bun.spawn([BINARY, "listen", proxied, "--target", "dev", "--forward-to", `http://127.0.0.1:${local.port}/hooks`, "--token", TOKEN], { stdout: "pipe", stderr: "pipe" });
    await waitFor("the max_body event delivered through the proxy", () => got.length >= 1, 15_000);
    expect(got[0]!.body.length).toBe(1024 * 1024);
    expect((await fetch(`${proxied}/in/app`, { method: "POST", body: '{"second":true}' })).status).toBe(200);
    await waitFor("a second event delivered", () => got.length >= 2);
    expect(new TextDecoder().decode(got[1]!.body)).toBe('{"second":true}');
  } finally {
    listen?.kill("SIGTERM");
    await listen?.exited;
    nginx.kill("SIGQUIT");
    await nginx.exited;
    await relay.stop();
    local.stop(true);
  }
}, 60_000);
