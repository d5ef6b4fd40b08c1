import { expect, test } from "bun:test";
import { alertBody, alertEnabled, alertKey, targetAlerts, targetCondition, type TargetFacts } from "./alert.ts";
import { formatAge } from "./quantity-text.ts";
import { slackText } from "./slack-format.ts";

const AT = Date.UTC(2030, 0, 1);
const healthy: TargetFacts = { disabled: false, disabledBy: null, disabledReason: null, lastError: null, consecutiveFailures: 0, failingSince: null, circuitOpenUntil: null };
const open: TargetFacts = { ...healthy, consecutiveFailures: 10, lastError: "HTTP 500", failingSince: AT - 60_000, circuitOpenUntil: AT + 5_000 };
const gone: TargetFacts = { ...open, disabled: true, disabledBy: "gone", disabledReason: "HTTP 410 Gone" };

test("a target disabled by a 410 or disable_after alerts; one an operator disabled is only off", () => {
  expect(targetCondition(gone)).toBe("disabled");
  expect(targetCondition({ ...gone, disabledBy: "auto" })).toBe("disabled");
  expect(targetCondition({ ...gone, disabledBy: "api" })).toBe("off");
  expect(targetCondition({ ...gone, disabledBy: "config" })).toBe("off");
  // Half-open (its time is up, a probe pending) is still open: only a success closes it.
  expect(targetCondition({ ...open, circuitOpenUntil: AT - 1 })).toBe("circuit_open");
  expect(targetCondition(undefined)).toBe("ok");
});

test("condition changes raise, recover, or say nothing", () => {
  const types = (before: Parameters<typeof targetAlerts>[1], now: Parameters<typeof targetAlerts>[2], s: TargetFacts) =>
    targetAlerts("orders", before, now, s, AT).map((a) => [a.type, a.resolved, a.condition]);
  expect(types("ok", "circuit_open", open)).toEqual([["target.circuit_open", false, "target.circuit_open"]]);
  // The circuit's alert is closed, pointing to the disabled one: left open, a later circuit would read as its reminder.
  expect(types("circuit_open", "disabled", gone)).toEqual([["target.recovered", true, "target.circuit_open"], ["target.disabled", false, "target.disabled"]]);
  expect(types("disabled", "ok", healthy)).toEqual([["target.recovered", true, "target.disabled"]]);
  // Enabled, and failing again before the check saw it: the disabled episode ends, the circuit's begins.
  expect(types("disabled", "circuit_open", open)).toEqual([["target.recovered", true, "target.disabled"], ["target.circuit_open", false, "target.circuit_open"]]);
  expect(types("circuit_open", "ok", healthy)).toEqual([["target.recovered", true, "target.circuit_open"]]);
  expect(types(undefined, "disabled", gone)).toEqual([["target.disabled", false, "target.disabled"]]);
  expect(types(undefined, "ok", healthy)).toEqual([]);
  // An operator turning a target off raises nothing but closes the alert it had; enabling it later says nothing.
  expect(types("disabled", "off", { ...gone, disabledBy: "api" })).toEqual([["target.recovered", true, "target.disabled"]]);
  expect(types("circuit_open", "off", { ...open, disabled: true, disabledBy: "api" })).toEqual([["target.recovered", true, "target.circuit_open"]]);
  expect(types("ok", "off", { ...healthy, disabled: true, disabledBy: "config" })).toEqual([]);
  expect(types("off", "ok", healthy)).toEqual([]);
  expect(types("disabled", "disabled", gone)).toEqual([]);
});

test("the body has exactly the fields of the contract, in order", () => {
  const [a] = targetAlerts("orders", "ok", "disabled", gone, AT);
  const body = JSON.parse(alertBody(a!));
  expect(Object.keys(body)).toEqual(["type", "subject", "message", "at", "resolved", "details"]);
  expect(body).toMatchObject({ type: "target.disabled", subject: "orders", at: "2030-01-01T00:00:00.000Z", resolved: false });
});

test("a resolved notice has its own key and needs its condition's kind to be on", () => {
  const [recovered] = targetAlerts("orders", "disabled", "ok", healthy, AT);
  expect(alertKey(recovered!)).toBe("target.disabled/orders/resolved");
  expect(alertEnabled(recovered!, ["target.recovered"])).toBe(false);
  expect(alertEnabled(recovered!, ["target.recovered", "target.disabled"])).toBe(true);
});

test("ages read the way an operator writes them", () => {
  expect([45_000, 17 * 60_000, 125 * 60_000, 3 * 86_400_000 + 4 * 3_600_000].map(formatAge)).toEqual(["45s", "17m", "2h 5m", "3d 4h"]);
});

test("slack text: an alert's kind, subject and message; any other event its type, source and id", () => {
  const [a] = targetAlerts("orders", "disabled", "ok", healthy, AT);
  const body = new TextEncoder().encode(alertBody(a!));
  expect(slackText({ eventId: "evt_1", source: "hookrelay", eventType: "target.recovered", body })).toBe(
    "[hookrelay] RESOLVED target.recovered orders: target orders was enabled again; its paused deliveries are being sent",
  );
  expect(slackText({ eventId: "evt_2", source: "shop", eventType: "order.paid", body: new Uint8Array([0xff]) })).toBe("[hookrelay] order.paid from shop (evt_2)");
  expect(slackText({ eventId: "evt_3", source: "hookrelay", eventType: null, body: new Uint8Array([0xff]) })).toBe("[hookrelay] event from hookrelay (evt_3)");
});
