/**
 * Who sent a request, on the compiled binary: X-Forwarded-For is believed
 * only from a peer in server.trusted_proxies (the rightmost hop not itself a
 * proxy), the address it names is what is stored, what allow_ips checks and
 * what the failed-token limiter counts; /healthz answers on the public port.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary, type RunningBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const tmp = tempDir("hookrelay-client-address-e2e-");
afterAll(() => tmp.remove());

async function relayWith(name: string, server: string, source: string): Promise<RunningBinary> {
  const cfg = join(tmp.dir, `${name}.toml`);
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
${server}
[store]
url = "file:./${name}.db"
[[sources]]
name = "gh"
verify = { scheme = "none" }
${source}
[[targets]]
name = "dev"
kind = "listen"
token = "listen-token-0123456789"
[[routes]]
from = "gh"
to = ["dev"]
`,
  );
  return startBinary(["serve", "--config", cfg], tmp.dir);
}

let n = 0;
// A new body each time: the same bytes twice would be a duplicate of the first event.
const send = (relay: RunningBinary, headers: Record<string, string> = {}) =>
  fetch(`${relay.publicUrl}/in/gh`, { method: "POST", body: JSON.stringify({ n: ++n }), headers: { "content-type": "application/json", ...headers } });
const api = async <T>(relay: RunningBinary, path: string) => (await (await fetch(`${relay.adminUrl}${path}`)).json()) as T;
const storedAddress = async (relay: RunningBinary, res: Response) => {
  const { id } = (await res.json()) as { id: string };
  return (await api<{ remoteAddr: string | null }>(relay, `/api/events/${id}`)).remoteAddr;
};

test("from a trusted peer the stored address is the forwarded client's; spoofed hops to its left are ignored", async () => {
  const relay = await relayWith("trusted", `trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8"]`, "");
  try {
    expect(await storedAddress(relay, await send(relay, { "x-forwarded-for": "1.2.3.4, 203.0.113.7, 10.1.1.1" }))).toBe("203.0.113.7");
    expect(await storedAddress(relay, await send(relay, { forwarded: 'for="[2001:db8::17]:4711"' }))).toBe("2001:db8::17");
    expect(await storedAddress(relay, await send(relay))).toBe("127.0.0.1");
  } finally {
    await relay.stop();
  }
}, 30_000);

test("from a peer not in trusted_proxies (or with none set) X-Forwarded-For is ignored", async () => {
  for (const [name, server] of [["untrusted", `trusted_proxies = ["10.0.0.0/8"]`], ["unset", ""]] as const) {
    const relay = await relayWith(name, server, "");
    try {
      expect(await storedAddress(relay, await send(relay, { "x-forwarded-for": "203.0.113.7" }))).toBe("127.0.0.1");
    } finally {
      await relay.stop();
    }
  }
}, 30_000);

test("allow_ips: another address gets 403 with a reason, recorded as rejection ip_not_allowed; an allowed one is stored", async () => {
  const relay = await relayWith("allow", `trusted_proxies = ["127.0.0.1/32"]`, `allow_ips = ["192.30.252.0/22", "2a0a:a440::/29"]`);
  try {
    const refused = await send(relay);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: { code: "ip_not_allowed", message: "requests from 127.0.0.1 are not allowed for this source (allow_ips)" } });
    const spoofed = await send(relay, { "x-forwarded-for": "192.30.252.1, 198.51.100.9" });
    expect(spoofed.status).toBe(403);
    expect((await send(relay, { "x-forwarded-for": "192.30.253.200" })).status).toBe(200);
    expect((await send(relay, { "x-forwarded-for": "2a0a:a441::1" })).status).toBe(200);
    // A GET challenge from outside the ranges is refused alike, before any echo.
    const challenge = await fetch(`${relay.publicUrl}/in/gh?challenge=probe`);
    expect([challenge.status, await challenge.text()]).toEqual([403, expect.stringContaining("ip_not_allowed")]);
    // Rejections are written with the next commit, not before the answer: wait for the third.
    const listed = () => api<{ rejections: { reason: string; remoteAddr: string; bodyExcerpt: string | null }[] }>(relay, "/api/rejections?source=gh");
    let { rejections } = await listed();
    for (let i = 0; i < 100 && rejections.length < 3; i++) ({ rejections } = await (Bun.sleep(20).then(listed)));
    expect(rejections.map((r) => [r.reason, r.remoteAddr])).toEqual([
      ["ip_not_allowed", "127.0.0.1"],
      ["ip_not_allowed", "198.51.100.9"],
      ["ip_not_allowed", "127.0.0.1"],
    ]);
    const metrics = await (await fetch(`${relay.adminUrl}/metrics`)).text();
    expect(metrics).toContain('hookrelay_rejected_total{source="gh",reason="ip_not_allowed"} 3');
  } finally {
    await relay.stop();
  }
}, 30_000);

test("the failed-token limiter counts the forwarded client, so one client's guesses do not shut out another behind the same proxy", async () => {
  const relay = await relayWith("limiter", `trusted_proxies = ["127.0.0.1/32"]`, "");
  const listenAs = (client: string, token: string) =>
    fetch(`${relay.publicUrl}/listen/dev`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": client } });
  try {
    let last = 0;
    for (let i = 0; i < 8 && last !== 429; i++) last = (await listenAs("203.0.113.66", "wrong")).status;
    expect(last).toBe(429);
    // Another client behind the same proxy is not shut out: its right token gets past the check (426: not an upgrade).
    expect((await listenAs("203.0.113.77", "listen-token-0123456789")).status).toBe(426);
  } finally {
    await relay.stop();
  }
}, 30_000);

test("GET /healthz answers on the public listener, without auth, in a few bytes", async () => {
  const relay = await relayWith("health", "", "");
  try {
    const res = await fetch(`${relay.publicUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"ok":true}');
  } finally {
    await relay.stop();
  }
}, 30_000);
