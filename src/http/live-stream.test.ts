import { expect, test } from "bun:test";
import { tempStores } from "../../test/support/temp-store.ts";
import { targetConfig } from "../../test/delivery/fixtures.ts";
import { makeId } from "../core/ids.ts";
import { silentLogger } from "../log/logger.ts";
import type { Store } from "../store/index.ts";
import { LiveHub } from "./live-stream.ts";

const freshStore = tempStores("hookrelay-live-");

let seq = 0;
const submit = (store: Store) => {
  const id = makeId("evt", Date.now(), new Uint8Array(10).fill(++seq));
  return store.writer.submit({
    id, source: "s", eventType: "x".repeat(200), dedupeKey: `k${seq}`, dedupeWindowMs: 0, receivedAt: Date.now(),
    method: "POST", path: "/in/s", query: "", headers: [], body: new TextEncoder().encode("{}"),
    contentType: "application/json", remoteAddr: null, deliveries: [],
  });
};

test("a client that stops reading is cut off once it is too far behind, so its stream cannot grow without bound", async () => {
  const store = await freshStore();
  const hub = new LiveHub({ reads: store.reads, targets: () => [], nowMs: Date.now, log: silentLogger, tickMs: 20, behindBytes: 4096 });
  const res = hub.open({ kind: "events", filter: { limit: 50 }, afterId: null }, () => true);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  // Never read: every new event lands in the stream's queue.
  for (let i = 0; i < 200 && hub.size > 0; i++) {
    await submit(store);
    await Bun.sleep(25);
  }
  expect(hub.size).toBe(0);
});

test("a stream whose credentials stop being accepted is ended at the next tick", async () => {
  const store = await freshStore();
  const hub = new LiveHub({ reads: store.reads, targets: () => [], nowMs: Date.now, log: silentLogger, tickMs: 20 });
  let signedIn = true;
  const res = hub.open({ kind: "targets" }, () => signedIn);
  const reader = res.body!.getReader();
  await reader.read();
  expect(hub.size).toBe(1);
  signedIn = false;
  for (let i = 0; i < 100 && hub.size > 0; i++) await Bun.sleep(10);
  expect(hub.size).toBe(0);
  // The client sees the end of the stream after what was already sent.
  for (;;) if ((await reader.read()).done) break;
});

test("an open event's stream sends it again when what holds its target back changes (a circuit opened, reopened later), not only its deliveries", async () => {
  const store = await freshStore();
  const target = { name: "t" } as never;
  const hub = new LiveHub({ reads: store.reads, targets: () => [target], nowMs: Date.now, log: silentLogger, tickMs: 20 });
  const id = makeId("evt", Date.now(), new Uint8Array(10).fill(++seq));
  await store.writer.submit({
    id, source: "s", eventType: "x", dedupeKey: `k${seq}`, dedupeWindowMs: 0, receivedAt: Date.now(),
    method: "POST", path: "/in/s", query: "", headers: [], body: new TextEncoder().encode("{}"),
    contentType: "application/json", remoteAddr: null, deliveries: [{ id: makeId("dlv", Date.now(), new Uint8Array(10).fill(seq)), target: "t", status: "pending" }],
  });
  const reader = hub.open({ kind: "event", id }, () => true).body!.getReader();
  const decoder = new TextDecoder();
  // One read in flight at a time: a read left pending by a timeout takes the next chunk.
  let reading: ReturnType<typeof reader.read> | null = null;
  /** The next event message, or null when none comes within a second. */
  const next = async (): Promise<string | null> => {
    const timeout = Bun.sleep(1000).then(() => null);
    for (;;) {
      reading ??= reader.read();
      const chunk = await Promise.race([reading, timeout]);
      if (chunk === null) return null;
      reading = null;
      const text = decoder.decode(chunk.value);
      if (text.includes('"kind":"event"')) return text;
    }
  };
  expect(await next()).toContain(id);
  expect(await next()).toBeNull();
  const circuit = (until: number) =>
    store.writer.write([{ sql: "INSERT INTO target_state (name, circuit_open_until, updated_at) VALUES ('t', ?, 0) ON CONFLICT (name) DO UPDATE SET circuit_open_until = excluded.circuit_open_until", args: [until] }]);
  await circuit(Date.now() + 60_000);
  expect(await next()).toContain(id);
  await circuit(Date.now() + 120_000);
  expect(await next()).toContain(id);
  await reader.cancel();
});

test("a reload (configChanged) brings a targets stream up to date at the next tick, though nothing was committed", async () => {
  const store = await freshStore();
  let targets = [targetConfig("a", "http://127.0.0.1:9/a"), targetConfig("b", "http://127.0.0.1:9/b")];
  const hub = new LiveHub({ reads: store.reads, targets: () => targets, nowMs: Date.now, log: silentLogger, tickMs: 100 });
  const reader = hub.open({ kind: "targets" }, () => true).body!.getReader();
  const decoder = new TextDecoder();
  const names = async () => {
    for (;;) {
      const data = /^data: (.*)$/m.exec(decoder.decode((await reader.read()).value))?.[1];
      if (data) return (JSON.parse(data) as { targets: { name: string }[] }).targets.map((t) => t.name);
    }
  };
  expect(await names()).toEqual(["a", "b"]);
  await Bun.sleep(250); // quiet ticks: without a commit the views are read again only every 5th (500 ms here)
  targets = [targets[0]!];
  hub.configChanged();
  const started = performance.now();
  expect(await names()).toEqual(["a"]);
  expect(performance.now() - started).toBeLessThan(400);
  await reader.cancel();
});
