import { expect, test } from "bun:test";
import { headerText } from "./header-text.ts";

test("printable ASCII without % is sent as it is", () => {
  for (const t of ["order.created", "customer.subscription.updated", "Order Created", "a", "", "x-y_z:1/2"]) expect(headerText(t)).toBe(t);
});

test("anything a header cannot carry is percent-encoded as UTF-8, and decodes back exactly", () => {
  const cases: [string, string][] = [
    ["points.earned·bonus✓", "points.earned%C2%B7bonus%E2%9C%93"],
    ["inj\r\nX-Injected: yes", "inj%0D%0AX-Injected: yes"],
    ["ctl\u0001", "ctl%01"],
    ["50%", "50%25"],
    [" padded ", "%20padded%20"],
    ["café 🎉", "caf%C3%A9 %F0%9F%8E%89"],
    ["line\u2028sep", "line%E2%80%A8sep"],
  ];
  for (const [text, sent] of cases) {
    expect(headerText(text)).toBe(sent);
    expect(decodeURIComponent(sent)).toBe(text);
    // What the wire takes: visible ASCII and inner spaces only.
    expect(sent).toMatch(/^[!-~]([ !-~]*[!-~])?$/);
  }
});

test("a lone surrogate goes as U+FFFD rather than failing the attempt", () => {
  expect(headerText("bad\ud800")).toBe("bad%EF%BF%BD");
});
