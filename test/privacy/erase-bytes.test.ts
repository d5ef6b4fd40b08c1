/**
 * An erase through the compiled binary, judged by the store's raw bytes: the
 * erased request (body, query, a header) and the target's echo of it are in
 * neither the database file nor its write-ahead log afterwards, while the
 * relay runs on, idle; so is an erased rejected request. (The search index keeps words, lower-cased, apart: see
 * docs/OPERATIONS.md "A privacy request".)
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunningBinary } from "../support/binary.ts";
import { adminJson, relayToml, runBinary, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";
import { waitFor } from "../support/wait.ts";

const tmp = scratchDir("hookrelay-erase-bytes-");
let bin: RunningBinary | undefined;
const echo = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => new Response(`got ${await req.text()}`) });
afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop();
  echo.stop(true);
  tmp.remove();
});

// Upper and lower case: the search index folds case, so its words never spell this.
const MARKER = "ZqxPrivacyMARKERzq";

test("an erased request and the reply echoing it are gone from the store's file and its WAL, the relay running on", async () => {
  bin = await serveBinary(tmp.dir, relayToml({ targets: [{ url: `http://127.0.0.1:${echo.port}/hooks` }] }));
  const body = JSON.stringify({ id: "priv-1", type: "customer.updated", email: `alice-${MARKER}@example.com`, pad: "x".repeat(6000) });
  const sent = await fetch(`${bin.publicUrl}/in/p?cust=${MARKER}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-ploints-signature": (await import("../support/fault-harness.ts")).signPloints(body), "x-customer": MARKER },
  });
  expect(sent.status).toBe(200);
  const { id } = (await sent.json()) as { id: string };
  // Another event, so that the file holds more than the one erased.
  expect((await sendEvent(bin.publicUrl, JSON.stringify({ id: "priv-2", type: "t" }))).status).toBe(200);
  await waitFor("delivered, the echo recorded", async () => JSON.stringify(await adminJson(bin!.adminUrl, `/api/events/${id}`)).includes(`got {`));
  const db = join(tmp.dir, "data", "relay.db");
  const hits = () => [db, `${db}-wal`].map((f) => (existsSync(f) ? readFileSync(f).toString("latin1").split(MARKER).length - 1 : 0));
  await waitFor("the marker on disk before the erase", () => hits().some((n) => n > 0));
  // Indexed: its words are in the search index (lower-cased).
  const word = MARKER.toLowerCase();
  await waitFor("found by a search", async () => (await adminJson<{ events: unknown[] }>(bin!.adminUrl, `/api/events?text=${word}`)).events.length === 1);

  const erased = await fetch(`${bin.adminUrl}/api/events/${id}`, { method: "DELETE", headers: { "x-requested-with": "test" } });
  expect(erased.status).toBe(200);
  // Answered once the WAL has been copied into the file (where what the erase freed is zeros) and emptied.
  expect(hits()).toEqual([0, 0]);
  expect(JSON.stringify(await adminJson(bin.adminUrl, `/api/events/${id}`))).not.toContain(MARKER);
  expect((await adminJson<{ events: unknown[] }>(bin.adminUrl, `/api/events?text=${word}`)).events).toEqual([]);

  // A backup (the compact copy to swap in) keeps none of its words either: the index is merged whole in it.
  const backup = await runBinary(["backup", "--config", join(tmp.dir, "hookrelay.toml"), "--to", join(tmp.dir, "copy.db")], tmp.dir);
  expect(backup.code).toBe(0);
  const copy = readFileSync(join(tmp.dir, "copy.db")).toString("latin1");
  expect([copy.split(MARKER).length - 1, copy.split(word).length - 1]).toEqual([0, 0]);
  expect(copy).toContain("priv-2"); // the other event is there
}, 30_000);

test("an erased rejected request is gone from the store's file and its WAL, the relay running on", async () => {
  const dir = scratchDir("hookrelay-erase-rejection-");
  const relay = await serveBinary(dir.dir, relayToml({ targets: [{ url: `http://127.0.0.1:${echo.port}/hooks` }] }));
  try {
    const marker = `${MARKER}Rej`;
    // A bad signature: refused (401), its query, a header and the body's first 4 KB kept as a rejection.
    const refused = await fetch(`${relay.publicUrl}/in/p?cust=${marker}`, {
      method: "POST",
      body: JSON.stringify({ email: `bob-${marker}@example.com` }),
      headers: { "content-type": "application/json", "x-ploints-signature": "sha256=00", "x-customer": marker },
    });
    expect(refused.status).toBe(401);
    const db = join(dir.dir, "data", "relay.db");
    const hits = () => [db, `${db}-wal`].map((f) => (existsSync(f) ? readFileSync(f).toString("latin1").split(marker).length - 1 : 0));
    await waitFor("the marker on disk before the erase", () => hits().some((n) => n > 0));
    const { rejections } = await adminJson<{ rejections: { id: string }[] }>(relay.adminUrl, "/api/rejections");
    const erased = await fetch(`${relay.adminUrl}/api/rejections/${rejections[0]!.id}`, { method: "DELETE", headers: { "x-requested-with": "test" } });
    expect(erased.status).toBe(200);
    expect(hits()).toEqual([0, 0]);
    expect(JSON.stringify(await adminJson(relay.adminUrl, `/api/rejections/${rejections[0]!.id}`))).not.toContain(marker);
  } finally {
    await relay.stop();
    dir.remove();
  }
}, 30_000);
