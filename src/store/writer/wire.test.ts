import { expect, test } from "bun:test";
import type { ResultSet } from "@libsql/client";
import type { IngestItem, RejectionItem } from "./group-commit.ts";
import { decodeBatch, decodeResults, decodeStatements, encodeBatch, encodeResults, encodeStatements, fromWire, post, receiving } from "./wire.ts";

test("statements cross as JSON with their blobs and bigints set aside, positional and named arguments alike", () => {
  const blob = new Uint8Array([0, 255, 10, 13, 34]);
  // A view into a larger buffer: only its own bytes travel.
  const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
  const stmts = [
    "BEGIN",
    { sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)", args: ["text \"quoted\"\n", 4.5, null, blob, 2n ** 62n] },
    { sql: "UPDATE t SET b = :b WHERE n = :n", args: { ":b": view, ":n": 7 } },
    { sql: "SELECT 1" },
  ];
  const wire = encodeStatements(stmts);
  // Both blobs in one buffer, the view's own three bytes only.
  expect(wire.json).toContain('{"b":[0,5]}');
  expect(wire.json).toContain('{"b":[5,8]}');
  expect([...wire.bytes!]).toEqual([0, 255, 10, 13, 34, 1, 2, 3]);
  const back = decodeStatements(structuredClone(wire));
  expect(back[0]).toBe("BEGIN");
  expect(back[1]).toEqual({ sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)", args: ["text \"quoted\"\n", 4.5, null, blob, 2n ** 62n] });
  expect(back[2]).toEqual({ sql: "UPDATE t SET b = :b WHERE n = :n", args: { ":b": new Uint8Array([1, 2, 3]), ":n": 7 } });
  expect(back[3]).toBe("SELECT 1");
});

test("results cross with blob values as ArrayBuffers (as the driver gives them) and rows that answer by name and index", () => {
  const body = new Uint8Array([1, 2, 3, 250]).buffer;
  const rs = {
    columns: ["id", "body", "n"],
    columnTypes: ["TEXT", "BLOB", "INTEGER"],
    rows: [["a", body, 1], ["b", null, 2], ["c", new Uint8Array([7]).buffer, 3]],
    rowsAffected: 2,
    lastInsertRowid: 12345678901234n,
  } as unknown as ResultSet;
  const plain = { columns: ["x"], columnTypes: [""], rows: [[1]], rowsAffected: 0, lastInsertRowid: undefined } as unknown as ResultSet;
  const wire = encodeResults([rs, plain]);
  const [one, two] = decodeResults(structuredClone(wire)).map(fromWire);
  expect(one!.rows[0]!.id).toBe("a");
  expect(one!.rows[0]![1]).toBeInstanceOf(ArrayBuffer);
  expect([...new Uint8Array(one!.rows[0]!.body as ArrayBuffer)]).toEqual([1, 2, 3, 250]);
  expect(one!.rows[1]!.body).toBeNull();
  expect([...new Uint8Array(one!.rows[2]!.body as ArrayBuffer)]).toEqual([7]);
  expect(one!.rowsAffected).toBe(2);
  expect(one!.lastInsertRowid).toBe(12345678901234n);
  expect(two!.rows[0]!.x).toBe(1);
  expect(two!.lastInsertRowid).toBeUndefined();
});

/** What a port was asked to post, delivered as a receiving thread would get it. */
function loopback() {
  const sent: { data: unknown; transfer?: Transferable[] }[] = [];
  const port = { postMessage: (data: unknown, transfer?: Transferable[]) => sent.push({ data: structuredClone(data, { transfer: transfer as Transferable[] }), transfer }) };
  return { port, sent, deliver: (to: (e: MessageEvent) => void) => sent.forEach((m) => to({ data: m.data } as MessageEvent)) };
}

test("a message's bytes move in a message of their own just before it, and arrive paired with it", () => {
  const { port, sent, deliver } = loopback();
  const bytes = new Uint8Array([1, 2, 3]);
  post(port, { kind: "write", id: 1, stmts: "[]" }, bytes);
  post(port, { kind: "checkpoint", id: 2 });
  // Moved, not copied: the sender's buffer is detached.
  expect(bytes.byteLength).toBe(0);
  expect(sent.map((m) => m.data instanceof ArrayBuffer)).toEqual([true, false, false]);
  // The records themselves stay flat: nothing in them for the structured clone to copy.
  for (const m of sent.slice(1)) expect(Object.values(m.data as object).every((v) => v === null || typeof v !== "object")).toBe(true);
  const got: [unknown, number[] | null][] = [];
  deliver(receiving((m, b) => got.push([m, b && [...b]])));
  expect(got).toEqual([
    [{ kind: "write", id: 1, stmts: "[]" }, [1, 2, 3]],
    [{ kind: "checkpoint", id: 2 }, null],
  ]);
});

test("a view into a larger buffer moves only its own bytes and leaves the larger buffer whole", () => {
  const { port, sent } = loopback();
  const whole = new Uint8Array([9, 1, 2, 9]);
  post(port, { kind: "x" }, whole.subarray(1, 3));
  expect([...new Uint8Array(sent[0]!.data as ArrayBuffer)]).toEqual([1, 2]);
  expect(whole.byteLength).toBe(4);
});

test("a batch's bodies and excerpts travel back to back in one buffer, empty ones included; none at all when every one is empty", () => {
  const item = (id: string, body: number[]): IngestItem => ({
    id, source: "s", eventType: null, dedupeKey: id, dedupeWindowMs: 0, receivedAt: 1, method: "POST", path: "/in/s", query: "",
    headers: [["x", "é"]], body: new Uint8Array(body), contentType: null, remoteAddr: null, deliveries: [{ id: `d${id}`, target: "t", status: "pending" }],
  });
  const rejection = (excerpt: number[]): RejectionItem => ({
    id: "r", source: "s", receivedAt: 2, reason: "bad_signature", message: "no", method: "POST", path: "/in/s", headers: [], bodyExcerpt: new Uint8Array(excerpt), remoteAddr: null, keep: true,
  });
  const wire = encodeBatch([item("a", [1, 2]), item("b", []), item("c", [0, 255])], [rejection([7])]);
  expect([...wire.bytes!]).toEqual([1, 2, 0, 255, 7]);
  const back = decodeBatch(wire);
  expect(back.items.map((it) => [...it.body])).toEqual([[1, 2], [], [0, 255]]);
  expect(back.items[1]!.headers).toEqual([["x", "é"]]);
  expect(back.items[2]!.deliveries).toEqual([{ id: "dc", target: "t", status: "pending" }]);
  expect([...back.rejections[0]!.bodyExcerpt]).toEqual([7]);

  const empty = encodeBatch([item("a", []), item("b", [])], [rejection([])]);
  expect(empty.bytes).toBeNull();
  const emptyBack = decodeBatch(empty);
  expect(emptyBack.items.map((it) => it.body.byteLength)).toEqual([0, 0]);
  expect(emptyBack.rejections[0]!.bodyExcerpt.byteLength).toBe(0);
});
