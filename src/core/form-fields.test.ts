import { expect, test } from "bun:test";
import { formFields, formKindOf } from "./form-fields.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const part = (b: string, disposition: string, value: string) => `--${b}\r\nContent-Disposition: form-data; ${disposition}\r\n\r\n${value}\r\n`;

test("the form kind is read from the media type, parameters and case aside", () => {
  expect(formKindOf("Multipart/Form-Data; boundary=x")).toBe("multipart");
  expect(formKindOf("application/x-www-form-urlencoded;charset=utf-8")).toBe("urlencoded");
  expect(formKindOf("application/json")).toBeNull();
  expect(formKindOf(null)).toBeNull();
});

test("multipart: text fields in order, UTF-8 kept, file parts skipped, a preamble and a quoted boundary allowed", () => {
  const b = "a:b c";
  const body = `preamble\r\n${part(b, 'name="city"', "Zürich")}${part(b, 'name="file"; filename="x.txt"', "not a field")}${part(b, 'name="empty"', "")}--${b}--\r\nepilogue`;
  expect(formFields(enc(body), `multipart/form-data; boundary="${b}"`)).toEqual([["city", "Zürich"], ["empty", ""]]);
});

test("multipart cut short, or without a boundary, is no form", () => {
  const b = "xyz";
  expect(formFields(enc(`${part(b, 'name="a"', "1")}--${b}`.slice(0, -6)), `multipart/form-data; boundary=${b}`)).toBeNull();
  expect(formFields(enc(part(b, 'name="a"', "1")), "multipart/form-data")).toBeNull();
});

test("url-encoded fields keep every value of a repeated name, in order", () => {
  expect(formFields(enc("a=1&b=%C3%A9&a=2"), "application/x-www-form-urlencoded")).toEqual([["a", "1"], ["b", "é"], ["a", "2"]]);
});
