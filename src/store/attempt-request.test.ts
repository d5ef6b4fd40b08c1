import { expect, test } from "bun:test";
import { packAttemptRequest, unpackAttemptRequest } from "./attempt-request.ts";

const event = {
  id: "evt_1",
  deliveryId: "dlv_1",
  source: "shop",
  eventType: "order.paid",
  contentType: "application/json",
  headers: [["x-shopify-topic", "orders/paid"], ["x-shopify-hmac-sha256", "abc="], ["user-agent", "Shopify"]] as [string, string][],
};
const request = {
  method: "POST",
  url: "https://t.example/hooks?…",
  headers: [
    ["x-shopify-topic", "orders/paid"],
    ["content-type", "application/json"],
    ["user-agent", "hookrelay/0.1"],
    ["webhook-id", "evt_1"],
    ["webhook-timestamp", "1733259000"],
    ["webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
    ["hookrelay-source", "shop"],
    ["hookrelay-event-type", "order.paid"],
    ["hookrelay-attempt", "2"],
    ["hookrelay-delivery", "dlv_1"],
    ["authorization", "Bearer [redacted: 20 chars]"],
  ] as [string, string][],
};

test("a stored request keeps every name in order, refers to the event for the values it repeats, and reads back whole", () => {
  const stored = packAttemptRequest(request, event);
  expect(JSON.parse(stored)).toEqual([
    "POST",
    "https://t.example/hooks?…",
    "x-shopify-topic",
    "content-type",
    ["user-agent", "hookrelay/0.1"],
    "webhook-id",
    ["webhook-timestamp", "1733259000"],
    ["webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
    "hookrelay-source",
    "hookrelay-event-type",
    ["hookrelay-attempt", "2"],
    "hookrelay-delivery",
    ["authorization", "Bearer [redacted: 20 chars]"],
  ]);
  expect(stored.length).toBeLessThan(JSON.stringify(request).length * 0.8);
  expect(unpackAttemptRequest(stored, event)).toEqual(request);
});

test("a forwarded value of an erased event reads as erased; the event's own fields are still known", () => {
  const stored = packAttemptRequest(request, event);
  const headers = new Map(unpackAttemptRequest(stored, { ...event, headers: null }).headers);
  expect(headers.get("x-shopify-topic")).toBe("(erased)");
  expect(headers.get("webhook-id")).toBe("evt_1");
});
