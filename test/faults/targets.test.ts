/**
 * Misbehaving targets, through the compiled binary: one event routed to eight
 * scripted targets at once (slow, hanging after accept, an endless body,
 * garbage instead of HTTP, non-UTF-8, a redirect, 410, 429 + Retry-After),
 * each checked through the admin API. A bad target costs only its own
 * attempts: the healthy one is delivered at once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import type { RunningBinary } from "../support/binary.ts";
import { adminJson, recordingTarget, relayToml, scratchDir, sendEvent, serveBinary, type TargetOptions } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

type Attempt = { at: string; status: number | null; durationMs: number; error: string | null; responseExcerpt: string | null };
type Delivery = { target: string; status: string; attempts: Attempt[] };

const tmp = scratchDir("hookrelay-targets-");
const stops: (() => unknown)[] = [];
let bin: RunningBinary;
let eventId: string;

// Targets that are plain HTTP servers, scripted per request.
let slowCalls = 0;
const slow = recordingTarget(async () => {
  if (++slowCalls === 1) await Bun.sleep(3000); // first attempt outlives the 1 s timeout
  return new Response("ok");
});
let endlessCancelled = false;
const endless = recordingTarget(() => {
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  return new Response(
    new ReadableStream({
      pull: (c) => c.enqueue(chunk),
      cancel: () => void (endlessCancelled = true),
    }),
    { status: 200 },
  );
});
const nonUtf8 = recordingTarget(() => new Response(new Uint8Array([0x6f, 0x6b, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x80]), { status: 500 }));
const redirect = recordingTarget((hit) => (hit.path === "/hooks" ? new Response(null, { status: 302, headers: { location: "/elsewhere" } }) : new Response("never")));
const gone = recordingTarget(() => new Response("gone", { status: 410 }));
const limited = recordingTarget((_h, n) => (n === 1 ? new Response("slow down", { status: 429, headers: { "retry-after": "2" } }) : new Response("ok")));
const healthy = recordingTarget();

// Targets below HTTP: one accepts and never answers, one answers garbage.
const sockets: Socket<unknown>[] = [];
const hangServer: TCPSocketListener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void sockets.push(s), data() {} } });
let garbageRequests = 0;
const garbageServer: TCPSocketListener = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(s) {
      garbageRequests++;
      s.write("SMTP READY \x00\x01\x02 this is not HTTP\r\n\r\n");
      s.end();
    },
  },
});

beforeAll(async () => {
  for (const t of [slow, endless, nonUtf8, redirect, gone, limited, healthy]) stops.push(() => t.stop());
  stops.push(() => hangServer.stop(true), () => garbageServer.stop(true), () => sockets.forEach((s) => s.end()));
  const schedule = ["0s", "500ms", "10s"];
  const targets: TargetOptions[] = [
    { name: "slow", url: slow.url, timeout: "1s", schedule },
    { name: "hang", url: `http://127.0.0.1:${hangServer.port}/hooks`, timeout: "1s", schedule },
    { name: "endless", url: endless.url, schedule },
    { name: "garbage", url: `http://127.0.0.1:${garbageServer.port}/hooks`, schedule },
    { name: "nonutf8", url: nonUtf8.url, schedule },
    { name: "redirect", url: redirect.url, schedule },
    { name: "gone", url: gone.url, schedule },
    { name: "limited", url: limited.url, schedule },
    { name: "healthy", url: healthy.url, schedule },
  ];
  bin = await serveBinary(tmp.dir, relayToml({ targets }));
  const r = await sendEvent(bin.publicUrl, JSON.stringify({ id: "evt_targets", type: "points.earned" }));
  expect(r.status).toBe(200);
  eventId = r.json.id!;
});

afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop("SIGKILL");
  for (const s of stops) await s();
  tmp.remove();
});

async function deliveryTo(target: string): Promise<Delivery> {
  const ev = await adminJson<{ deliveries: Delivery[] }>(bin.adminUrl, `/api/events/${eventId}`);
  return ev.deliveries.find((d) => d.target === target)!;
}

/** Waits until the delivery to `target` has `n` recorded attempts. */
const attempts = (target: string, n: number, timeoutMs = 8_000) =>
  waitFor(`${n} attempt(s) to ${target}`, async () => {
    const d = await deliveryTo(target);
    return d.attempts.length >= n ? d : null;
  }, timeoutMs);

test("a healthy target is delivered at once while the others misbehave", async () => {
  const d = await attempts("healthy", 1, 3_000);
  expect(d.status).toBe("delivered");
  expect(healthy.byId.get(eventId)).toBe(1);
});

test("a slow target's attempt ends at its timeout and the retry is delivered", async () => {
  const d = await attempts("slow", 2);
  expect(d.attempts.map((a) => a.error).sort()).toEqual([null, "timeout after 1000ms"].sort());
  expect(d.status).toBe("delivered");
  const timedOut = d.attempts.find((a) => a.error !== null)!;
  expect(timedOut.durationMs).toBeGreaterThanOrEqual(900);
  expect(timedOut.durationMs).toBeLessThan(2_500);
});

test("a target that accepts the connection and never answers fails at the timeout and is retried", async () => {
  const d = await attempts("hang", 2);
  expect(d.status).toBe("pending");
  for (const a of d.attempts) {
    expect(a.error).toBe("timeout after 1000ms");
    expect(a.durationMs).toBeLessThan(2_500);
  }
});

test("a target streaming an endless body is delivered with a 4 KB excerpt and the stream is cut", async () => {
  const d = await attempts("endless", 1);
  expect(d.status).toBe("delivered");
  const a = d.attempts[0]!;
  expect(a.status).toBe(200);
  expect(a.responseExcerpt).toBe("A".repeat(4096));
  expect(a.durationMs).toBeLessThan(2_000);
  await waitFor("the endless stream to be cancelled", () => endlessCancelled, 3_000);
});

test("garbage instead of an HTTP answer is a network error, retried, and recorded as text", async () => {
  const d = await attempts("garbage", 2);
  expect(d.status).toBe("pending");
  expect(garbageRequests).toBeGreaterThanOrEqual(2);
  for (const a of d.attempts) {
    expect(a.status).toBeNull();
    expect(a.error).toStartWith("network error");
  }
});

test("a non-UTF-8 reply is stored as a lossy text excerpt and the API still answers valid JSON", async () => {
  const d = await attempts("nonutf8", 1);
  const a = d.attempts[0]!;
  expect(a.status).toBe(500);
  expect(a.error).toBe("HTTP 500");
  expect(a.responseExcerpt).toStartWith("ok ");
  expect(a.responseExcerpt).toContain("\uFFFD");
  const page = await fetch(`${bin.adminUrl}/events/${eventId}`);
  expect(page.status).toBe(200);
});

test("a redirect is a failure naming the Location, which is never requested", async () => {
  const d = await attempts("redirect", 2);
  expect(d.status).toBe("pending");
  expect(d.attempts[0]!.error).toBe("HTTP 302: redirect not followed (Location: /elsewhere)");
  expect(redirect.hits.map((h) => h.path)).toEqual(["/hooks", "/hooks"]);
});

test("410 Gone disables the target and keeps its deliveries paused, later events included", async () => {
  const d = await attempts("gone", 1);
  expect(d.status).toBe("paused");
  const targets = await adminJson<{ targets: { name: string; state: string; disabledReason: string | null; queue: { paused: number } }[] }>(bin.adminUrl, "/api/targets");
  const t = targets.targets.find((x) => x.name === "gone")!;
  expect(t.state).toBe("disabled");
  expect(t.disabledReason).toContain("410");
  const later = await sendEvent(bin.publicUrl, JSON.stringify({ id: "evt_after_gone", type: "points.earned" }));
  await waitFor("the later event at the healthy target", () => healthy.byId.get(later.json.id!) === 1, 3_000);
  const ev = await adminJson<{ deliveries: Delivery[] }>(bin.adminUrl, `/api/events/${later.json.id}`);
  expect(ev.deliveries.find((x) => x.target === "gone")!.status).toBe("paused");
  expect(gone.hits).toHaveLength(1);
});

test("429 with Retry-After: 2 delays the next attempt by two seconds, not the schedule's 500 ms", async () => {
  const d = await attempts("limited", 2, 8_000);
  expect(d.status).toBe("delivered");
  expect(d.attempts.map((a) => a.status).sort()).toEqual([200, 429]);
  const gapMs = limited.hits[1]!.at - limited.hits[0]!.at;
  expect(gapMs).toBeGreaterThanOrEqual(1_900);
  expect(gapMs).toBeLessThan(5_000);
});
