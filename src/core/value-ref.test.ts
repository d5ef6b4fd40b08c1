import { describe, expect, test } from "bun:test";
import { parseValueRef } from "./value-ref.ts";

describe("parseValueRef", () => {
  test("a $. path becomes a JSON path split on dots, keeping dashes and case", () => {
    expect(parseValueRef("$.order.id")).toEqual({ kind: "json", path: ["order", "id"] });
    expect(parseValueRef("$.event-data.event")).toEqual({ kind: "json", path: ["event-data", "event"] });
    expect(parseValueRef("$.eventType")).toEqual({ kind: "json", path: ["eventType"] });
  });

  test("a header reference is lower-cased", () => {
    expect(parseValueRef("header:X-Webhook-Event")).toEqual({ kind: "header", name: "x-webhook-event" });
  });

  test("a query reference keeps its name", () => {
    expect(parseValueRef("query:MessageSid")).toEqual({ kind: "query", name: "MessageSid" });
  });

  test("surrounding whitespace is ignored", () => {
    expect(parseValueRef("  $.id ")).toEqual({ kind: "json", path: ["id"] });
  });

  test("anything else is null", () => {
    for (const bad of ["", "$", "$.", "$.a..b", "$.a.", "id", "header:", "header:bad name", "query:", "body:x", "$a"]) {
      expect(parseValueRef(bad)).toBeNull();
    }
  });
});
