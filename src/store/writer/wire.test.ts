import { expect, test } from "bun:test";
import type { ResultSet } from "@libsql/client";
import { decodeResults, decodeStatements, encodeResults, encodeStatements, fromWire, transferOf } from "./wire.ts";

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
  expect(wire.ends).toEqual([5, 8]);
  expect(wire.bytes!.byteLength).toBe(8);
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
  // The buffer moves with the message (transferred, not copied); what arrives is still whole.
  const moved = structuredClone(wire, { transfer: transferOf(wire) });
  expect(wire.bytes!.byteLength).toBe(0);
  const [one, two] = decodeResults(moved).map(fromWire);
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
