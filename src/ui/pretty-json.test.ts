import { describe, expect, test } from "bun:test";
import { PRETTY_LIMITS, prettyJson, type PrettyJson } from "./pretty-json.ts";

describe("prettyJson", () => {
  test("indents like JSON.stringify with two spaces for ordinary documents", () => {
    const docs = [
      { a: 1, b: [1, 2, { c: null, d: true, e: false }], f: {}, g: [], h: "x,y:{z}[]" },
      [[], [[]], { "": "" }],
      { nested: { deeper: { deepest: [1.5, -2e-7, "s"] } } },
      "just a string",
    ];
    for (const doc of docs) {
      const text = JSON.stringify(doc);
      const expected: PrettyJson = typeof doc === "string" ? null : { ok: true, text: JSON.stringify(doc, null, 2) };
      expect(prettyJson(text)).toEqual(expected);
    }
  });

  test("keeps strings and numbers as they were written, and drops the sender's whitespace", () => {
    const text = '{ "n" : 12345678901234567890 , "e":1E+2,\n\t"s" : "\\u00e9 \\"q\\" \\\\" , "a" : [ ] }';
    expect(prettyJson(text)).toEqual({ ok: true, text: '{\n  "n": 12345678901234567890,\n  "e": 1E+2,\n  "s": "\\u00e9 \\"q\\" \\\\",\n  "a": []\n}' });
  });

  test("is not a pretty view for text that is not JSON", () => {
    for (const text of ["", "hello", "{nope}", "[1,2", "[1]]", '{"a":1}}', '{"a" 1}', "[1,]", "<xml/>"]) {
      expect([text, prettyJson(text)]).toEqual([text, null]);
    }
  });

  test("is left out, with the reason, for a document nested deeper than the limit", () => {
    const deep = "[".repeat(PRETTY_LIMITS.maxDepth + 1) + "]".repeat(PRETTY_LIMITS.maxDepth + 1);
    expect(prettyJson(deep)).toEqual({ ok: false, reason: `nested deeper than ${PRETTY_LIMITS.maxDepth} levels` });
    // (A long string at the bottom keeps the indentation within the growth bound.)
    const atLimit = "[".repeat(PRETTY_LIMITS.maxDepth) + `"${"x".repeat(10_000)}"` + "]".repeat(PRETTY_LIMITS.maxDepth);
    expect(prettyJson(atLimit)?.ok).toBe(true);
    // Unbalanced and very deep: still a bounded, quick answer.
    expect(prettyJson("[".repeat(PRETTY_LIMITS.maxInputChars))).toEqual({ ok: false, reason: `nested deeper than ${PRETTY_LIMITS.maxDepth} levels` });
  });

  test("is left out, with the reason, for a body over the size limit", () => {
    const big = `[${'"x",'.repeat(PRETTY_LIMITS.maxInputChars / 4)}"x"]`;
    expect(prettyJson(big)).toEqual({ ok: false, reason: `larger than ${PRETTY_LIMITS.maxInputChars / 1024} KB` });
  });

  test("is left out when indenting would make it more than a few times the body", () => {
    // Short values deep down: every one gets a line of its own and a deep indent.
    const depth = 40;
    const text = "[".repeat(depth) + Array(2000).fill("0").join(",") + "]".repeat(depth);
    const r = prettyJson(text);
    expect(r).toEqual({ ok: false, reason: `more than ${PRETTY_LIMITS.maxGrowth} times the size of the body once indented` });
  });

  test("its output never exceeds the growth bound", () => {
    for (const text of [JSON.stringify({ a: [1, 2, 3], b: { c: "d" } }), `[${Array(500).fill("[1,2]").join(",")}]`]) {
      const r = prettyJson(text);
      if (r?.ok) expect(r.text.length).toBeLessThanOrEqual(PRETTY_LIMITS.maxGrowth * text.length + PRETTY_LIMITS.slackChars);
    }
  });
});
