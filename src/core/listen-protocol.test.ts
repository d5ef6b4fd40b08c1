import { expect, test } from "bun:test";
import { encodeListenMessage, parseListenMessage } from "./listen-protocol.ts";

test("a delivery frame round-trips through encode and parse", () => {
  const m = { type: "delivery", deliveryId: "dlv_1", webhookId: "evt_1", attempt: 2, eventType: null, source: "s", headers: [["a", "b"]], bodyBase64: "AA==" } as const;
  expect(parseListenMessage(encodeListenMessage({ ...m, headers: [["a", "b"]] }))).toEqual({ ...m, headers: [["a", "b"]] });
});

test("an ack is ok only with a 2xx status", () => {
  expect(parseListenMessage({ type: "ack", deliveryId: "d", ok: true, status: 204, durationMs: 3.4 })).toEqual({
    type: "ack", deliveryId: "d", ok: true, status: 204, durationMs: 3, error: null, responseExcerpt: null,
  });
  expect(parseListenMessage({ type: "ack", deliveryId: "d", ok: true, status: 500, durationMs: 1 })).toMatchObject({ ok: false, error: "ack without a 2xx status" });
  expect(parseListenMessage({ type: "ack", deliveryId: "d", ok: false, status: null, durationMs: -5, error: "refused" })).toMatchObject({ ok: false, durationMs: 0, error: "refused" });
});

test("malformed frames parse to null instead of throwing", () => {
  for (const f of ["", "{", "null", "[]", '{"type":"ack"}', '{"type":"delivery","deliveryId":1}', '{"type":"other"}', { type: "ack", deliveryId: "d", ok: "yes" }]) {
    expect(parseListenMessage(f)).toBeNull();
  }
});
