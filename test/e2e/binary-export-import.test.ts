import { afterAll, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportLine, parseExportLine, type ExportedEvent } from "../../src/core/export-line.ts";
import { makeId } from "../../src/core/ids.ts";
import { readExportedEvents } from "../../src/store/event-transfer.ts";
import { openStore } from "../../src/store/index.ts";
import { runBinary, startBinary } from "../support/binary.ts";
import { tempDir } from "../support/relay.ts";
import { writePlointsConfig } from "../support/ploints-config.ts";

const tmp = tempDir("hookrelay-export-");
afterAll(() => tmp.remove());

const run = (args: string[]) => runBinary(args, tmp.dir);
const SECRET = "whsec_export";

function config(name: string, targetPort: number): string {
  return writePlointsConfig({ dir: tmp.dir, name, db: `${name}.db`, secret: SECRET, targetPort, extraTarget: 'retry = { schedule = ["0s", "1h"], jitter = 0 }' });
}

async function storedEvents(name: string): Promise<ExportedEvent[]> {
  const store = await openStore({ url: `file:${join(tmp.dir, `${name}.db`)}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true, inlineWriter: true });
  try {
    const ids = (await store.reads.execute("SELECT id FROM events ORDER BY id")).rows.map((r) => String(r.id));
    return await readExportedEvents(store.reads, ids);
  } finally {
    await store.close();
  }
}

/** A store's source counters, as the sources page shows them. */
async function sourceCounters(name: string) {
  const store = await openStore({ url: `file:${join(tmp.dir, `${name}.db`)}`, busyTimeoutMs: 1000, nowMs: Date.now, checkpointEveryMs: 0, mustExist: true, inlineWriter: true });
  try {
    const rows = (await store.reads.execute("SELECT source, received, duplicates FROM source_counters ORDER BY source")).rows;
    return rows.map((r) => ({ source: r.source, received: r.received, duplicates: r.duplicates }));
  } finally {
    await store.close();
  }
}

async function until(what: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(50);
  }
}

// A body that is not UTF-8: export must carry its exact bytes.
const BINARY_BODY = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x7b, 0x0a]);

test("export then import into a fresh store keeps ids and body bytes (binary and erased events too); a second import adds nothing; pending deliveries are delivered again", async () => {
  const received: string[] = [];
  const target = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const body = await req.text();
      received.push(body);
      return new Response(body.includes("fail") ? "no" : "ok", { status: body.includes("fail") ? 500 : 200 });
    },
  });
  const relay = await startBinary(["serve", "--config", config("a", target.port!)], tmp.dir);
  const post = (body: string | Uint8Array, type = "application/json") =>
    fetch(`${relay.publicUrl}/in/ploints`, {
      method: "POST",
      body: body as BodyInit,
      headers: { "content-type": type, "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex"), "x-trace": "t-1" },
    });
  const ids: string[] = [];
  for (const body of ['{"id":"e1","type":"points.earned"}', BINARY_BODY, '{"id":"e3","type":"fail"}', '{"id":"e4","type":"private"}', '{"id":"e5","type":"fail"}']) {
    const res = await post(body, body instanceof Uint8Array ? "application/octet-stream" : "application/json");
    expect(res.status).toBe(200);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await until(() => received.length >= 5);
  const admin = (path: string, method: string) => fetch(`${relay.adminUrl}${path}`, { method, headers: { origin: relay.adminUrl } });
  expect((await admin(`/api/events/${ids[3]}`, "DELETE")).status).toBe(200);
  // Erasing an event whose delivery waits for a retry cancels it; an operator's redeliver makes a second delivery.
  expect((await admin(`/api/events/${ids[4]}`, "DELETE")).status).toBe(200);
  expect((await admin(`/api/events/${ids[0]}/redeliver`, "POST")).status).toBe(202);
  await until(() => received.length >= 6);
  expect(await relay.stop()).toBe(0);

  const exported = await run(["export", "--config", join(tmp.dir, "a.toml"), "--out", "all.ndjson"]);
  expect(exported).toMatchObject({ code: 0 });
  expect(exported.out).toContain("exported 5 events");
  const file = join(tmp.dir, "all.ndjson");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(5);
  const parsed = lines.map((l) => parseExportLine(l));
  const events = parsed.map((p) => (p.ok ? p.event : expect.unreachable(p.reason)));
  expect(events.map((e) => e.id)).toEqual(ids);
  expect(events[1]!.request.body).toEqual(BINARY_BODY);
  expect(events[3]).toMatchObject({ request: { headers: null, body: null } });
  expect(JSON.parse(lines[3]!)).toMatchObject({ format: "hookrelay-export/1", erased: true, request: { bodyBase64: null } });
  expect(events[0]!.request.headers).toContainEqual(["x-trace", "t-1"]);
  expect(events[2]!.deliveries[0]).toMatchObject({ status: "pending", attemptCount: 1, attempts: [{ statusCode: 500 }] });
  expect(events[4]!.deliveries[0]).toMatchObject({ status: "cancelled", origin: "ingest" });
  expect(events[0]!.deliveries.map((d) => d.origin)).toEqual(["ingest", "redeliver"]);
  // The request each attempt sent comes along (as the event page shows it).
  expect(events[0]!.deliveries[0]!.attempts[0]!.request).toMatchObject({ method: "POST", headers: expect.arrayContaining([["webhook-id", ids[0]]]) });

  // A window that ends before it starts is a mistake, not "0 events".
  const backwards = await run(["export", "--config", join(tmp.dir, "a.toml"), "--since", "1h", "--until", "2h"]);
  expect(backwards.code).toBe(2);
  expect(backwards.err).toContain("--since 1h is not before --until 2h: no event could match (a duration counts back from now");
  // Every bad flag is said at once, each on its own line, before the config is read.
  const bad = await run(["export", "--config", join(tmp.dir, "a.toml"), "--until", "Dec 5", "--status", "nope"]);
  expect(bad.code).toBe(2);
  expect(bad.err.trim().split("\n")).toEqual([
    'hookrelay export: --until: expected a duration back from now (2h, 7d) or an ISO 8601 date or time (UTC unless it names its zone), got "Dec 5"',
    expect.stringMatching(/^hookrelay export: --status: expected one of pending, .*, got "nope"$/),
  ]);

  // A source the config does not name is exported all the same (a removed source's events stay stored), said so: a typo is no silent "0 events".
  const typo = await run(["export", "--config", join(tmp.dir, "a.toml"), "--source", "plonts"]);
  expect([typo.code, typo.out]).toEqual([0, ""]);
  expect(typo.err).toContain('hookrelay export: note: no source named "plonts" in the config (did you mean "ploints"?); exporting whatever events it left in the store');

  // Refuses to overwrite without --force.
  const again = await run(["export", "--config", join(tmp.dir, "a.toml"), "--out", "all.ndjson"]);
  expect(again.code).toBe(1);
  expect(again.err).toContain("--force");

  const b = config("b", target.port!);
  const imported = await run(["import", "--config", b, "all.ndjson"]);
  expect(imported).toMatchObject({ code: 0 });
  expect(imported.out).toContain("imported 5, skipped 0, bad lines 0");
  // b's store did not exist: the import made it, and says so (the second time not).
  expect(imported.err).toMatch(/b\.db did not exist: a new store was created there/);
  const twice = await run(["import", "--config", b, "all.ndjson"]);
  expect(twice.out).toContain("imported 0, skipped 5, bad lines 0");
  expect(twice.err).not.toContain("did not exist");

  // The source's counters moved with its events, once (the second import stored nothing).
  expect(await sourceCounters("b")).toEqual([{ source: "ploints", received: 5, duplicates: 0 }]);
  expect(await sourceCounters("b")).toEqual(await sourceCounters("a"));
  const [inA, inB] = [await storedEvents("a"), await storedEvents("b")];
  expect(inB.map((e) => e.id)).toEqual(inA.map((e) => e.id));
  expect(inB.map((e) => e.request)).toEqual(inA.map((e) => e.request));
  expect(inB.map((e) => [e.erasedAt, e.dedupeKey, e.receivedAt, e.duplicates])).toEqual(inA.map((e) => [e.erasedAt, e.dedupeKey, e.receivedAt, e.duplicates]));
  // Finished deliveries as they were, with their attempts; the pending one due again.
  for (const i of [0, 1, 3, 4]) expect(inB[i]!.deliveries).toEqual(inA[i]!.deliveries);
  expect(inB[2]!.deliveries[0]).toMatchObject({ id: inA[2]!.deliveries[0]!.id, status: "pending", attemptCount: 1, attempts: inA[2]!.deliveries[0]!.attempts });
  expect(inB[2]!.deliveries[0]!.nextAttemptAt).toBeLessThan(inA[2]!.deliveries[0]!.nextAttemptAt);

  const before = received.length;
  const relayB = await startBinary(["serve", "--config", b], tmp.dir);
  await until(() => received.length > before);
  expect(received.at(-1)).toBe('{"id":"e3","type":"fail"}');
  expect(await relayB.stop()).toBe(0);
  target.stop(true);
}, 60_000);

test("import reports bad lines with their numbers, skips them whole, and stores the good ones", async () => {
  const good = readFileSync(join(tmp.dir, "all.ndjson"), "utf8").trimEnd().split("\n");
  const badBody = JSON.parse(good[1]!) as { request: { bodyBase64: string } };
  badBody.request.bodyBase64 = "not base64!";
  const noId = JSON.parse(good[2]!) as { id?: string };
  delete noId.id;
  const ahead = JSON.parse(good[2]!) as { receivedAt: string };
  ahead.receivedAt = "9999-01-01T00:00:00.000Z";
  writeFileSync(
    join(tmp.dir, "mixed.ndjson"),
    [good[0], "{ not json", JSON.stringify(badBody), "", JSON.stringify(noId), '{"format":"other/9"}', JSON.stringify(ahead)].join("\n") + "\n",
  );
  const c = config("c", 9);
  const r = await run(["import", "--config", c, "mixed.ndjson"]);
  expect(r.code).toBe(1);
  expect(r.out).toContain("imported 1, skipped 0, bad lines 5");
  expect(r.err).toContain("line 7: receivedAt: 9999-01-01T00:00:00.000Z is more than a day ahead of this machine's clock");
  expect(r.err).toContain("line 2: not JSON");
  expect(r.err).toContain("line 3: request.bodyBase64: expected standard base64");
  expect(r.err).toContain("line 5: id: expected an id");
  expect(r.err).toContain('line 6: format: expected "hookrelay-export/1"');
  const stored = await storedEvents("c");
  expect(stored.map((e) => e.id)).toEqual([JSON.parse(good[0]!).id]);
  // A new event whose delivery has the id of one already stored under another event.
  const stolen = JSON.parse(good[1]!) as { id: string; deliveries: { id: string }[] };
  stolen.id = stolen.id.slice(0, -4) + "ZZZZ";
  stolen.deliveries[0]!.id = (JSON.parse(good[0]!) as typeof stolen).deliveries[0]!.id;
  writeFileSync(join(tmp.dir, "stolen.ndjson"), `${JSON.stringify(stolen)}\n`);
  const clash = await run(["import", "--config", c, "stolen.ndjson"]);
  expect(clash.code).toBe(1);
  expect(clash.err).toContain("line 1: not stored: one of its deliveries' ids is already stored under another event");
  expect(clash.err).not.toContain("SQLITE");
  // An archive file: gzip members appended one after another read as one stream.
  const member = Bun.gzipSync(new TextEncoder().encode(`${good.join("\n")}\n`));
  writeFileSync(join(tmp.dir, "events-day.ndjson.gz"), Buffer.concat([member, member]));
  const gz = await run(["import", "--config", c, "events-day.ndjson.gz"]);
  expect(gz.out).toBe("imported 4, skipped 6, bad lines 0\n");
  writeFileSync(join(tmp.dir, "cut.ndjson.gz"), member.subarray(0, member.length - 20));
  const cut = await run(["import", "--config", c, "cut.ndjson.gz"]);
  expect(cut.code).toBe(1);
  expect(cut.err).toContain("cut.ndjson.gz: unexpected end of file");
  writeFileSync(join(tmp.dir, "plain.ndjson.gz"), `${good[0]}\n`);
  const plain = await run(["import", "--config", c, "plain.ndjson.gz"]);
  expect(plain.code).toBe(1);
  expect(plain.err).toContain("plain.ndjson.gz: not a gzip file");
  const missing = await run(["import", "--config", c, "nope.ndjson"]);
  expect(missing.code).toBe(1);
  expect(missing.err).toContain("nope.ndjson");
}, 30_000);

test("import stores every line of a large file, the first ones included", async () => {
  const first = parseExportLine(readFileSync(join(tmp.dir, "all.ndjson"), "utf8").split("\n")[0]!);
  if (!first.ok) throw new Error(first.reason);
  const ids = Array.from({ length: 3000 }, (_, i) => makeId("evt", first.event.receivedAt + i, crypto.getRandomValues(new Uint8Array(10))));
  writeFileSync(join(tmp.dir, "large.ndjson"), ids.map((id) => `${exportLine({ ...first.event, id, deliveries: [] })}\n`).join(""));
  const r = await run(["import", "--config", config("d", 9), "large.ndjson"]);
  expect(r.out).toBe("imported 3000, skipped 0, bad lines 0\n");
  expect((await storedEvents("d")).map((e) => e.id)).toEqual(ids);
}, 60_000);

test("import into a store a relay is serving stores every event while the relay keeps acking", async () => {
  const cfg = config("e", 9);
  const relay = await startBinary(["serve", "--config", cfg], tmp.dir);
  const statuses: number[] = [];
  let importing = true;
  const ingest = (async () => {
    for (let i = 0; importing; i++) {
      const body = `{"id":"live-${i}","type":"points.earned"}`;
      const res = await fetch(`${relay.publicUrl}/in/ploints`, { method: "POST", body, headers: { "x-ploints-signature": createHmac("sha256", SECRET).update(body).digest("hex") } });
      statuses.push(res.status);
    }
  })();
  const r = await run(["import", "--config", cfg, "large.ndjson"]);
  importing = false;
  await ingest;
  expect(r.out).toBe("imported 3000, skipped 0, bad lines 0\n");
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.every((s) => s === 200)).toBe(true);
  const listed = await fetch(`${relay.adminUrl}/api/events?limit=1&source=ploints`);
  expect(listed.status).toBe(200);
  expect(await relay.stop()).toBe(0);
  expect(await storedEvents("e")).toHaveLength(3000 + statuses.length);
}, 60_000);
