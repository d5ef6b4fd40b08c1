/**
 * `hookrelay dev` as a user runs it: the compiled binary in an empty
 * directory, a real local receiver, the banner on stdout.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";

const tmp = tempDir("hookrelay-dev-e2e-");
afterAll(() => tmp.remove());

// The forward needs the delivery engine wired into start-relay.ts (createDeliveryEngine).

/** Reads the child's stdout until `marker` appears. */
async function readUntil(stream: ReadableStream<Uint8Array>, marker: string): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes(marker)) return text;
  }
  throw new Error(`stdout ended without "${marker}":\n${text}`);
}

test("dev in an empty directory prints the URLs, stores under ./.hookrelay and forwards to the local receiver", async () => {
  const received: { path: string; body: string; signature: string | null; eventType: string | null }[] = [];
  let firstArrived = () => {};
  const arrived = new Promise<void>((r) => (firstArrived = r));
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      received.push({ path: new URL(req.url).pathname, body: await req.text(), signature: req.headers.get("webhook-signature"), eventType: req.headers.get("hookrelay-event-type") });
      firstArrived();
      return new Response("ok");
    },
  });
  const relay = await startBinary(["dev", "--forward-to", `http://127.0.0.1:${receiver.port}/hooks`, "--port", "0", "--admin-port", "0"], tmp.dir);
  try {
    const banner = await readUntil(relay.proc.stdout as ReadableStream<Uint8Array>, "Redeliver on its page");
    expect(banner).toContain(`Paste into the provider:  ${relay.publicUrl}/in/dev`);
    // A loopback address, and no --public-url: the banner says a provider needs a tunnel.
    expect(banner).toContain(`(this machine only: for a provider, point a tunnel at port ${new URL(relay.publicUrl).port} and pass its URL as --public-url)`);
    expect(banner).toContain(`Web UI:                   ${relay.adminUrl}/`);
    expect(banner).not.toContain("whsec_");
    // Why the same curl a second time reaches nothing: said before it happens.
    expect(banner).toContain("A request sent again (the same body) is a duplicate for 7 days: acked, not forwarded.");
    // The log's "listening" line carries the web UI as a URL too (serve has no banner).
    const listening = JSON.parse(relay.logs().split("\n").find((l) => l.includes('"msg":"listening"'))!) as { ui: string };
    expect(listening.ui).toBe(`${relay.adminUrl}/`);
    // Unsigned requests are warned about once, in the banner's words, not with a key path of the generated config.
    for (let i = 0; i < 100 && !relay.logs().includes("WARNING"); i++) await Bun.sleep(20);
    expect(relay.logs()).toContain("WARNING: no --preset/--secret given: /in/dev accepts UNSIGNED requests");
    expect(relay.logs()).not.toContain("sources[0]");
    expect(existsSync(join(tmp.dir, ".hookrelay/hookrelay.db"))).toBe(true);
    expect(existsSync(join(tmp.dir, ".hookrelay/signing-secret"))).toBe(true);

    const body = '{"type":"dev.test","n":1.50,"note":"ë ✓"}';
    const res = await fetch(`${relay.publicUrl}/in/dev`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const listed = (await (await fetch(`${relay.adminUrl}/api/events`)).json()) as { events: { id: string }[] };
    expect(listed.events.map((e) => e.id)).toEqual([id]);

    await Promise.race([arrived, Bun.sleep(5000)]);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: "/hooks", body, eventType: "dev.test" });
    expect(received[0]!.signature).toMatch(/^v1,/);
  } finally {
    expect(await relay.stop()).toBe(0);
    receiver.stop(true);
  }
});

test("dev with a preset names the provider's event id as what makes a request a duplicate, and with --public-url the port its tunnel must reach", async () => {
  const dir = tempDir("hookrelay-dev-preset-");
  const relay = await startBinary(["dev", "--forward-to", "http://127.0.0.1:9/hooks", "--preset", "github", "--secret", "gh-dev-secret", "--public-url", "https://abc.example.com", "--port", "0", "--admin-port", "0"], dir.dir);
  try {
    const banner = await readUntil(relay.proc.stdout as ReadableStream<Uint8Array>, "Redeliver on its page");
    expect(banner).toContain("Paste into the provider:  https://abc.example.com/in/dev");
    expect(banner).toContain(`(your --public-url: its tunnel must lead to ${new URL(relay.publicUrl).host} here)`);
    expect(banner).toContain("A request sent again (the same x-github-delivery, the provider's event id) is a duplicate for 7 days");
    expect(banner).not.toContain("point a tunnel at port");
  } finally {
    await relay.stop();
    dir.remove();
  }
});

test("dev with a mistyped --forward-to or --preset exits 2 naming the flag, and leaves no ./.hookrelay behind", async () => {
  const { runBinary } = await import("../support/fault-harness.ts");
  const empty = tempDir("hookrelay-dev-flags-");
  try {
    const url = await runBinary(["dev", "--forward-to", "localhost:3000", "--port", "0", "--admin-port", "0"], empty.dir);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain("hookrelay dev: --forward-to:");
    const preset = await runBinary(["dev", "--forward-to", "http://127.0.0.1:9/hooks", "--preset", "stripee", "--secret", "whsec_x", "--port", "0", "--admin-port", "0"], empty.dir);
    expect(preset.code).toBe(2);
    expect(preset.stderr).toContain('did you mean "stripe"?');
    expect(existsSync(join(empty.dir, ".hookrelay"))).toBe(false);
  } finally {
    empty.remove();
  }
});
