/**
 * `hookrelay listen` as a user runs it: the relay is the compiled binary
 * (`serve`), the laptop is a second process of the same binary (`listen`),
 * the local app is a receiver on port 0.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { waitFor } from "../support/wait.ts";

const tmp = tempDir("hookrelay-listen-e2e-");
afterAll(() => tmp.remove());

const TOKEN = "listen-token-e2e-0123456789";

/** Starts `hookrelay listen …` and collects its stderr (JSON log lines). */
function startListen(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn([BINARY, "listen", ...args], { cwd: tmp.dir, env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  let text = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) text += decoder.decode(chunk, { stream: true });
  })();
  return { proc, logs: () => text, reading };
}

test("events sent while the listen client is down arrive once it starts, exact bytes, routed by type, each acked once", async () => {
  const got: { path: string; body: Uint8Array; webhookId: string | null }[] = [];
  const local = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      got.push({ path: new URL(req.url).pathname, body: new Uint8Array(await req.arrayBuffer()), webhookId: req.headers.get("webhook-id") });
      return new Response("ok");
    },
  });
  const cfg = join(tmp.dir, "hookrelay.toml");
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./relay.db"
[[sources]]
name = "app"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "alice"
kind = "listen"
token = "env:ALICE_TOKEN"
[[routes]]
from = "app"
to = ["alice"]
`,
  );
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir, { ALICE_TOKEN: TOKEN });
  let client: ReturnType<typeof startListen> | null = null;
  try {
    // Sent while no client is connected: they wait in the relay's store.
    const bodies = ['{"type":"order.paid","note":"café ✓ 😀"}\n', '{"type":"customer.created","n":1}\n', '{"type":"order.refunded"}'];
    const ids: string[] = [];
    for (const body of bodies) {
      const res = await fetch(`${relay.publicUrl}/in/app`, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: string }).id);
    }

    const base = `http://127.0.0.1:${local.port}`;
    client = startListen([relay.publicUrl, "--target", "alice", "--forward-to", `${base}/hooks`, "--forward-to", `order.*=${base}/orders`, "--token", "env:T"], { T: TOKEN });
    await waitFor("three local posts", () => got.length >= 3);
    expect(got.map((g) => g.path)).toEqual(["/orders", "/hooks", "/orders"]);
    expect(got.map((g) => g.webhookId)).toEqual(ids);
    got.forEach((g, i) => expect(Buffer.from(g.body).equals(Buffer.from(bodies[i]!, "utf8"))).toBe(true));

    // Each acked once: delivered, one attempt, and nothing posted twice.
    for (const id of ids) {
      const event = await waitFor("delivered", async () => {
        const e = (await (await fetch(`${relay.adminUrl}/api/events/${id}`)).json()) as { deliveries: { status: string; attempts: unknown[] }[] };
        return e.deliveries[0]?.status === "delivered" ? e : null;
      });
      expect(event.deliveries).toEqual([expect.objectContaining({ status: "delivered", attempts: [expect.objectContaining({ status: 200 })] })]);
    }
    await Bun.sleep(200);
    expect(got).toHaveLength(3);
    expect(client.logs()).toContain('"msg":"connected"');
    expect(client.logs()).not.toContain(TOKEN);

    // A relay shutdown with a client connected still exits 0; the client notices and retries.
    expect(await relay.stop()).toBe(0);
    await waitFor("client sees the close", () => client!.logs().includes('"msg":"connection closed"'));
    client.proc.kill("SIGTERM");
    expect(await client.proc.exited).toBe(0);
  } finally {
    client?.proc.kill("SIGKILL");
    if (relay.proc.exitCode === null) await relay.stop();
    local.stop(true);
  }
});

test("a wrong token makes the listen client exit 1 with a clear message", async () => {
  const cfg = join(tmp.dir, "wrong.toml");
  writeFileSync(
    cfg,
    `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "file:./wrong.db"
[[targets]]
name = "alice"
kind = "listen"
token = "${TOKEN}"
`,
  );
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  try {
    const client = startListen([relay.publicUrl, "--target", "alice", "--forward-to", "http://127.0.0.1:9/hooks", "--token", "not-the-token"], {});
    expect(await client.proc.exited).toBe(1);
    await client.reading;
    expect(client.logs()).toContain('refused the token for target "alice" (401)');
    expect(client.logs()).not.toContain("not-the-token");
  } finally {
    expect(await relay.stop()).toBe(0);
  }
});

test("flags that would spin or time out every post are refused with exit 2, naming the flag", async () => {
  const base = ["http://127.0.0.1:9", "--target", "alice", "--forward-to", "http://127.0.0.1:9/hooks", "--token", "t"];
  for (const [flags, said] of [
    [["--max-backoff", "0s"], "--max-backoff: at least 500ms, got 0ms"],
    [["--max-backoff", "100ms"], "--max-backoff: at least 500ms, got 100ms"],
    [["--timeout", "0s"], "--timeout: must be longer than 0"],
  ] as const) {
    const client = startListen([...base, ...flags], {});
    expect(await client.proc.exited).toBe(2);
    await client.reading;
    expect(client.logs()).toContain(said);
  }
});

test("a one-value flag given twice is refused (exit 2), not silently the last", async () => {
  const client = startListen(["http://127.0.0.1:9", "--target", "a", "--target", "b", "--forward-to", "http://127.0.0.1:9/hooks", "--token", "t"], {});
  expect(await client.proc.exited).toBe(2);
  await client.reading;
  expect(client.logs()).toContain("--target given twice; it takes one value");
});
