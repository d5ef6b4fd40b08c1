/**
 * Fresh events skip the lease round trip: while a target has a free slot,
 * the event's delivery is written already leased to this relay in the same
 * commit as the event, and sent from the bytes in memory right after the ack.
 * Without a free slot it is written pending and leased by a round as before.
 */
import { afterEach, expect, test } from "bun:test";
import { rows, startTestRelay, type TestRelay } from "../support/relay.ts";
import { recordingTarget, runCleanups } from "./fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

async function relayTo(url: string, concurrency: number, woken = true): Promise<TestRelay> {
  const relay = await startTestRelay(
    `
[[sources]]
name = "src"
verify = { scheme = "none" }
event_type = "$.type"
[[targets]]
name = "t"
url = "${url}"
concurrency = ${concurrency}
[[routes]]
from = "src"
to = ["t"]
`,
    // A poll far away: whatever is sent here was not found by a polling round.
    { engine: { pollMs: 3_600_000, woken } },
  );
  cleanups.unshift(() => relay.close());
  return relay;
}

test("an event acked while its target has a free slot is committed already leased to this relay and sent at once", async () => {
  const target = recordingTarget(cleanups, () => "hang");
  // Unwoken by ingest: a round woken by the second event's commit would lease it ahead (to wait for
  // the slot) before this test reads the row the commit wrote.
  const relay = await relayTo(target.url, 1, false);
  const res = await relay.post("src", '{"type":"a"}');
  const { id } = (await res.json()) as { id: string };
  // At the ack, the delivery is already this relay's: leased in the event's own transaction.
  const [row] = await rows(relay.store, "SELECT status, lease_id, attempts FROM deliveries WHERE event_id = ?", [id]);
  expect(row).toMatchObject({ status: "delivering", attempts: 0 });
  expect(String(row!.lease_id)).toStartWith("lease_");
  await target.until(1);
  expect(target.received[0]!.headers.get("webhook-id")).toBe(id);

  // The only slot is taken: the next event is written pending, for a round to lease.
  const next = (await (await relay.post("src", '{"type":"b"}')).json()) as { id: string };
  expect(await rows(relay.store, "SELECT status, lease_id FROM deliveries WHERE event_id = ?", [next.id])).toEqual([
    expect.objectContaining({ status: "pending", lease_id: null }),
  ]);
});

test("a fresh event's attempt is recorded like any other: delivered with one attempt row, its lease cleared", async () => {
  const target = recordingTarget(cleanups, () => ({ status: 200 }));
  const relay = await relayTo(target.url, 4);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(((await (await relay.post("src", `{"type":"x","n":${i}}`)).json()) as { id: string }).id);
  const deadline = performance.now() + 5000;
  let statuses: unknown[] = [];
  while (performance.now() < deadline) {
    statuses = (await rows(relay.store, "SELECT status FROM deliveries")).map((r) => r.status);
    if (statuses.length === 5 && statuses.every((s) => s === "delivered")) break;
    await Bun.sleep(20);
  }
  expect(statuses).toEqual(Array(5).fill("delivered"));
  expect(await rows(relay.store, "SELECT count(*) AS n FROM attempts WHERE status_code = 200")).toEqual([expect.objectContaining({ n: 5 })]);
  expect(await rows(relay.store, "SELECT count(*) AS n FROM deliveries WHERE lease_id IS NOT NULL OR attempts <> 1")).toEqual([expect.objectContaining({ n: 0 })]);
  expect(new Set(target.received.map((r) => r.headers.get("webhook-id")))).toEqual(new Set(ids));
});
