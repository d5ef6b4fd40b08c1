import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { searchQueryOf, searchTextOf, searchWordsOf, typedSearchOf } from "./search-text.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const words = (text: string) => text.split(/\s+/).filter(Boolean);

describe("searchTextOf", () => {
  test("a JSON body gives its keys, string values and numbers, not its punctuation or literals", () => {
    const text = searchTextOf({
      headers: [],
      body: enc(JSON.stringify({ type: "charge.refunded", data: { currency: "EUR", amount: 4200, live: true, note: null, tags: ["vip", "late"] } })),
      contentType: "application/json",
    });
    for (const w of ["type", "charge.refunded", "data", "currency", "EUR", "amount", "4200", "tags", "vip", "late", "note", "live"]) expect(text).toContain(w);
    expect(words(text)).not.toContain("true");
    expect(words(text)).not.toContain("null");
    expect(text).not.toContain("{");
  });

  test("escaped JSON strings are indexed decoded", () => {
    expect(searchTextOf({ headers: [], body: enc('{"city":"Montr\\u00e9al"}'), contentType: "application/json" })).toContain("Montréal");
  });

  test("a form body gives its field names and decoded values", () => {
    const text = searchTextOf({ headers: [], body: enc("Body=hello+there&From=%2B15551234&sender_name=Zo%C3%AB"), contentType: "application/x-www-form-urlencoded" });
    for (const w of ["Body", "hello there", "From", "+15551234", "sender_name", "Zoë"]) expect(text).toContain(w);
    expect(text).not.toContain("%2B");
  });

  test("other UTF-8 bodies are indexed as they are; a body that is not UTF-8 is not", () => {
    expect(searchTextOf({ headers: [], body: enc("plain refund note"), contentType: "text/plain" })).toContain("plain refund note");
    expect(searchTextOf({ headers: [], body: new Uint8Array([0xff, 0xfe, 0x41, 0x42]), contentType: null })).toBe("");
  });

  test("a header value sent in UTF-8 is indexed as its text; one in latin-1 as it reads", () => {
    const asReceived = (text: string) => Buffer.from(text, "utf8").toString("latin1"); // one character per byte, as Bun reads a header
    const text = searchTextOf({ headers: [["x-city", asReceived("zürichstadt")], ["x-jp", asReceived("大阪")], ["x-old", "m\u00fcnchen"]], body: null, contentType: null });
    expect(words(text)).toEqual(["zürichstadt", "大阪", "münchen"]);
  });

  test("a query string's parameter names and values are indexed, decoded", () => {
    const text = searchTextOf({ headers: [], query: "email=alice%40example.com&note=two+words&flag", body: null, contentType: null });
    expect(text).toBe("email alice@example.com note two words flag");
  });

  test("header values are indexed, header names are not", () => {
    const text = searchTextOf({ headers: [["x-shop-domain", "acme-store.example"], ["user-agent", "Shopify-Captain-Hook"]], body: null, contentType: null });
    expect(text).toContain("acme-store.example");
    expect(text).toContain("Shopify-Captain-Hook");
    expect(text).not.toContain("x-shop-domain");
  });

  test("the text is cut at maxChars", () => {
    const text = searchTextOf({ headers: [], body: enc("word ".repeat(10_000)), contentType: "text/plain" }, 1000);
    expect(text.length).toBeLessThanOrEqual(1000);
  });

  test("a deeply nested JSON body is walked without recursion", () => {
    const deep = "[".repeat(50_000) + '"bottom"' + "]".repeat(50_000);
    expect(searchTextOf({ headers: [], body: enc(deep), contentType: "application/json" })).toContain("bottom");
  });
});

describe("searchQueryOf", () => {
  test("each whitespace-separated term becomes a quoted phrase, all of them required", () => {
    expect(searchQueryOf("refund EUR")).toBe('"refund" "EUR"');
  });

  test("quotes inside a term are doubled, and FTS5 operators are plain words", () => {
    expect(searchQueryOf('say"hi OR NOT x')).toBe('"say""hi" "OR" "NOT" "x"');
  });

  test("a trailing * searches by prefix", () => {
    expect(searchQueryOf("refun*")).toBe('"refun"*');
  });

  test("terms without a letter or digit are dropped, and no words at all is null", () => {
    expect(searchQueryOf("refund - ++ !!")).toBe('"refund"');
    expect(searchQueryOf(" -- * ")).toBeNull();
  });

  test("at most 16 terms are kept", () => {
    expect(searchQueryOf(Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "))!.split(" ").length).toBe(16);
  });
});

describe("searchWordsOf", () => {
  test("cuts words as the embedded store's FTS5 tokenizer does (case, Latin diacritics, separators, scripts)", () => {
    // The oracle: SQLite's own unicode61 tokenizer with the index's options, read back through fts5vocab.
    const db = new Database(":memory:");
    db.run("CREATE VIRTUAL TABLE f USING fts5(t, tokenize='unicode61 remove_diacritics 2')");
    db.run("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'row')");
    const samples = [
      "Refund EUR ord_123 a.b@c.example acme-widgets.example 4.20",
      "cafe\u0301 Café ÆSIR straße ǅemal Ångström Łódź",
      "x²y ½ ١٢٣ हिन्दी 日本語 İstanbul ΣΊΣΥΦΟΣ ﬁne",
      "tabs\tand\nnewlines, \"quotes\" 'single' back\\slash $dollar #hash",
    ];
    for (const text of samples) {
      db.run("DELETE FROM f");
      db.run("INSERT INTO f VALUES (?)", [text]);
      const oracle = (db.query("SELECT term FROM v ORDER BY term").all() as { term: string }[]).map((r) => r.term);
      expect([...new Set(searchWordsOf(text))].sort()).toEqual(oracle);
    }
    db.close();
  });
});

test("typedSearchOf gives back the words a search query was made from", () => {
  for (const typed of ["refund EUR*", 'say "hi"', "ord_123 Café"]) expect(typedSearchOf(searchQueryOf(typed)!)).toBe(typed);
});
