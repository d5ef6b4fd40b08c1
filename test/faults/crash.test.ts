/**
 * Crashes of the compiled binary: SIGKILL during ingest, after a commit whose
 * answer the provider never saw, during delivery while holding leases, and a
 * SIGTERM under load. A real SQLite file, a signing provider and a recording
 * target on 127.0.0.1:0; the store is opened afterwards to check what is in it.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { RunningBinary } from "../support/binary.ts";
import { openStoreFile, provider, recordingTarget, perTestCleanups, relayToml, sendEvent, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const { later, scratch, track } = perTestCleanups();

function setup() {
  const dir = scratch();
  return { dir, db: join(dir, "data/relay.db") };
}

function target(script?: Parameters<typeof recordingTarget>[0]) {
  const t = recordingTarget(script);
  later(() => t.stop());
  return t;
}

/** Every stored event: relay id → dedupe key (the provider's $.id) and body. */
async function storedEvents(db: string) {
  const store = await openStoreFile(db);
  try {
    const rs = await store.reads.execute("SELECT id, dedupe_key, body FROM events");
    return new Map(rs.rows.map((r) => [String(r.id), { key: String(r.dedupe_key), body: Buffer.from(r.body as ArrayBuffer).toString() }]));
  } finally {
    await store.close();
  }
}

async function deliveryStatuses(db: string) {
  const store = await openStoreFile(db);
  try {
    const rs = await store.reads.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status");
    return Object.fromEntries(rs.rows.map((r) => [String(r.status), Number(r.n)]));
  } finally {
    await store.close();
  }
}

test("every request acknowledged before a SIGKILL in the middle of ingest is in the store after restart", async () => {
  const { dir, db } = setup();
  const toml = relayToml({});
  const acked = new Map<string, string>();
  let dropped = 0;
  // A kill can land just after a commit answered every request then inside the relay (the
  // group commit answers them together): nothing is mid-ingest then. Such a run is repeated,
  // at most three times, so that the kill this test is about really lands mid-ingest.
  for (let run = 0; run < 3 && dropped === 0; run++) {
    const first = track(await serveBinary(dir, toml));
    let killed = false;
    // 32 providers send back to back until the relay is gone. Only a request sent before the
    // kill and never answered counts as cut by it.
    const senders = Array.from({ length: 32 }, async (_, s) => {
      for (let i = 0; ; i++) {
        const body = JSON.stringify({ id: `k_${run}_${s}_${i}`, type: "points.earned", pad: "x".repeat(200) });
        const sentBeforeKill = !killed;
        try {
          const r = await sendEvent(first.publicUrl, body);
          if (r.status === 200) acked.set(r.json.id!, body);
        } catch {
          if (sentBeforeKill) dropped++;
          return;
        }
      }
    });
    const before = acked.size;
    await waitFor("300 acked requests", () => acked.size >= before + 300);
    first.proc.kill("SIGKILL");
    killed = true;
    await first.proc.exited;
    await Promise.all(senders);
  }

  // Restart: the store opens (WAL recovery) and serves again.
  const second = track(await serveBinary(dir, toml));
  expect((await sendEvent(second.publicUrl, JSON.stringify({ id: "after", type: "x" }))).status).toBe(200);
  expect(await second.stop()).toBe(0);

  const stored = await storedEvents(db);
  const missing = [...acked.keys()].filter((id) => stored.get(id)?.body !== acked.get(id));
  console.log(`SIGKILL during ingest: ${acked.size} acked, ${dropped} requests cut by the kill, ${stored.size - 1} stored before it, missing ${missing.length}`);
  expect(missing).toEqual([]);
  // Each provider's request in flight at the kill got no answer: the kill really landed mid-ingest.
  expect(dropped).toBeGreaterThan(0);
});

test("a provider retrying an event whose answer was lost in a crash gets the same id and causes no second delivery", async () => {
  const { dir, db } = setup();
  const t = target();
  const toml = relayToml({ targets: [{ url: t.url }] });
  const body = JSON.stringify({ id: "lost_ack", type: "points.earned" });

  const first = track(await serveBinary(dir, toml));
  const original = await sendEvent(first.publicUrl, body);
  expect(original.status).toBe(200);
  await waitFor("the first delivery", () => t.byId.get(original.json.id!) === 1);
  // The process dies right after its commit; from the store's side this is exactly a
  // commit whose 200 never reached the provider, so the provider will retry.
  first.proc.kill("SIGKILL");
  await first.proc.exited;

  const second = track(await serveBinary(dir, toml));
  // The provider re-signs and retries the same event.
  const retry = await sendEvent(second.publicUrl, body);
  expect(retry.status).toBe(200);
  expect(retry.json).toEqual({ id: original.json.id, duplicate: true });
  // A later event going through proves the delivery loop ran after the retry.
  const later = await sendEvent(second.publicUrl, JSON.stringify({ id: "later", type: "points.earned" }));
  await waitFor("the later event's delivery", () => t.byId.get(later.json.id!) === 1);
  expect(t.byId.get(original.json.id!)).toBe(1);
  expect(await second.stop()).toBe(0);

  const store = await openStoreFile(db);
  const rows = await store.reads.execute({ sql: "SELECT e.duplicates, count(d.id) AS n FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.id = ?", args: [original.json.id!] });
  await store.close();
  expect(rows.rows[0]).toMatchObject({ duplicates: 1, n: 1 });
});

test("deliveries leased by a process killed mid-attempt are sent again after restart with the same webhook-id, none lost", async () => {
  const { dir, db } = setup();
  let hang = true;
  const t = target(() => (hang ? "hang" : new Response("ok")));
  // The lease is the target timeout plus the engine's margin: a short timeout keeps the wait short.
  const toml = relayToml({ targets: [{ url: t.url, timeout: "3s", connectTimeout: "500ms", concurrency: 8 }] });
  const first = track(await serveBinary(dir, toml));
  const leased: string[] = [];
  for (let i = 0; i < 4; i++) leased.push((await sendEvent(first.publicUrl, JSON.stringify({ id: `lease_${i}`, type: "points.earned" }))).json.id!);
  // Four attempts are at the target, leased and unanswered, when the process dies.
  await waitFor("4 attempts in flight", () => t.inFlight() === 4);
  expect(await deliveryStatuses(db)).toEqual({ delivering: 4 });
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  hang = false;

  const restartedAt = performance.now();
  const second = track(await serveBinary(dir, toml));
  // New events use the free slots at once; the dead process's leases still count
  // against the target's concurrency until they expire (concurrency is global).
  const fresh: string[] = [];
  for (let i = 0; i < 4; i++) fresh.push((await sendEvent(second.publicUrl, JSON.stringify({ id: `fresh_${i}`, type: "points.earned" }))).json.id!);
  await waitFor("the new events' deliveries", () => fresh.every((id) => t.byId.get(id) === 1), 10_000);
  expect(leased.every((id) => t.byId.get(id) === 1)).toBe(true);
  await waitFor("the 4 leased deliveries, again", () => leased.every((id) => t.byId.get(id) === 2), 45_000, 200);
  const waitedMs = performance.now() - restartedAt;
  console.log(`leased deliveries redelivered ${Math.round(waitedMs)} ms after restart`);
  // Never two attempts at once: the second one waited for the dead process's lease (> the timeout).
  expect(waitedMs).toBeGreaterThan(3_500);
  // The webhook-id is the event id on every attempt, so the target can recognise the repeat.
  const seen = t.hits.map((h) => h.webhookId);
  expect(seen.toSorted()).toEqual([...leased, ...leased, ...fresh].toSorted());
  expect(await second.stop()).toBe(0);
  expect(await deliveryStatuses(db)).toEqual({ delivered: 8 });
}, 70_000);

test("SIGTERM under load exits 0, keeps every acknowledged event and releases leases for the next start", async () => {
  const { dir, db } = setup();
  // A slow target keeps attempts in flight when the signal arrives.
  const t = target(async () => {
    await Bun.sleep(100);
    return new Response("ok");
  });
  const toml = relayToml({ targets: [{ url: t.url, timeout: "5s", concurrency: 16 }] });
  let bin: RunningBinary | null = track(await serveBinary(dir, toml));
  const send = provider({ rps: 200, total: 400, prefix: "term", url: () => bin?.publicUrl ?? null });
  await waitFor("200 acked", () => send.acked.size >= 200);
  await waitFor("attempts in flight", () => t.inFlight() > 0);
  const running = bin;
  bin = null;
  const stopStarted = performance.now();
  expect(await running.stop("SIGTERM")).toBe(0);
  const stopMs = performance.now() - stopStarted;
  const ackedAtStop = new Map(send.acked);

  const stored = await storedEvents(db);
  const missing = [...ackedAtStop].filter(([key, id]) => stored.get(id)?.key !== key);
  expect(missing).toEqual([]);
  // Attempts cut by the stop were handed back, not left leased by a process that is gone.
  expect((await deliveryStatuses(db)).delivering).toBeUndefined();

  // The provider keeps retrying what was not acknowledged; everything arrives without waiting for a lease.
  const restartedAt = performance.now();
  bin = track(await serveBinary(dir, toml));
  await send.done;
  await waitFor("every acked event delivered", () => [...send.acked.values()].every((id) => t.byId.has(id)), 15_000);
  console.log(
    `SIGTERM under load: stopped in ${Math.round(stopMs)} ms with ${ackedAtStop.size} acked; all ${send.acked.size} delivered ${Math.round(performance.now() - restartedAt)} ms after restart`,
  );
  expect(await bin.stop()).toBe(0);
  expect(await deliveryStatuses(db)).toEqual({ delivered: 400 });
}, 40_000);
