import { describe, expect, test } from "bun:test";
import { makeFieldReader } from "./extract.ts";
import { compileRouteFilter, parseRouteFilter, type FilterInput } from "./route-filter.ts";

/** The input a filter sees: a body value, lower-cased headers, query parameters. */
function input(body: unknown, headers: Record<string, string> = {}, query: Record<string, string> = {}): FilterInput {
  return { body: () => body, headers: () => headers, query: () => query };
}

/** Parses and compiles `filter` (it must be valid) and runs it; the reason is the first failure's. */
function run(filter: unknown, on: FilterInput): { matched: boolean; reason: string | null } {
  const parsed = parseRouteFilter(filter);
  if (!parsed.ok) throw new Error(`invalid filter: ${JSON.stringify(parsed.problems)}`);
  const test = compileRouteFilter(parsed.filter);
  const why: string[] = [];
  const matched = test(on, why);
  // The fast path (no reasons) must agree with the explaining one.
  expect(test(on, null)).toBe(matched);
  return { matched, reason: matched ? null : (why[0] ?? null) };
}

const body = (filter: unknown, value: unknown) => run({ body: filter }, input(value)).matched;

describe("filters pasted from Hookdeck", () => {
  test("a list means the field's list holds every one of its values", () => {
    const f = { product: { tags: ["gift", "something"] } };
    expect(body(f, { product: { tags: ["something", "x", "gift"] } })).toBe(true);
    expect(body(f, { product: { tags: ["gift"] } })).toBe(false);
    expect(body(f, { product: { tags: "gift" } })).toBe(false);
  });

  test("$exist is read as $exists", () => {
    expect(body({ product: { deleted_at: { $exist: false } } }, { product: {} })).toBe(true);
    expect(body({ product: { deleted_at: { $exist: false } } }, { product: { deleted_at: 1 } })).toBe(false);
  });
});

describe("matching", () => {
  test("a plain value means equality; nested tables match nested fields and every listed field must match", () => {
    const f = { data: { currency: "EUR", amount: 50, live: true } };
    expect(body(f, { data: { currency: "EUR", amount: 50, live: true, extra: 1 } })).toBe(true);
    expect(body(f, { data: { currency: "USD", amount: 50, live: true } })).toBe(false);
    expect(body(f, { data: { currency: "EUR", amount: 51, live: true } })).toBe(false);
    expect(body(f, { data: { currency: "EUR", amount: 50, live: false } })).toBe(false);
    expect(body(f, { currency: "EUR", amount: 50, live: true })).toBe(false);
  });

  test("every operator matches what it says and nothing else", () => {
    const cases: [Record<string, unknown>, unknown, boolean][] = [
      [{ $eq: "a" }, "a", true],
      [{ $eq: "a" }, "b", false],
      [{ $neq: "a" }, "b", true],
      [{ $neq: "a" }, "a", false],
      [{ $in: ["EUR", "USD"] }, "USD", true],
      [{ $in: ["EUR", "USD"] }, "GBP", false],
      [{ $nin: ["EUR", "USD"] }, "GBP", true],
      [{ $nin: ["EUR", "USD"] }, "EUR", false],
      [{ $gt: 10 }, 11, true],
      [{ $gt: 10 }, 10, false],
      [{ $gte: 10 }, 10, true],
      [{ $gte: 10 }, 9.99, false],
      [{ $lt: 10 }, 9, true],
      [{ $lt: 10 }, 10, false],
      [{ $lte: 10 }, 10, true],
      [{ $lte: 10 }, 10.5, false],
      [{ $startsWith: "order." }, "order.paid", true],
      [{ $startsWith: "order." }, "refund.order.", false],
      [{ $endsWith: ".paid" }, "order.paid", true],
      [{ $endsWith: ".paid" }, "order.paid.late", false],
      [{ $contains: "acme" }, "shop.acme.com", true],
      [{ $contains: "acme" }, "shop.other.com", false],
      [{ $contains: "vip" }, ["new", "vip"], true],
      [{ $contains: 3 }, [1, 2, 3], true],
      [{ $contains: "vip" }, ["new"], false],
      [{ $exists: true }, 0, true],
      [{ $exists: true }, null, true],
      [{ $exists: false }, "", false],
      [{ $not: { $gte: 10 } }, 5, true],
      [{ $not: { $gte: 10 } }, 15, false],
      [{ $not: "test" }, "live", true],
      [{ $or: ["a", { $startsWith: "b" }] }, "bee", true],
      [{ $or: ["a", { $startsWith: "b" }] }, "cee", false],
      [{ $and: [{ $gte: 1 }, { $lt: 5 }] }, 3, true],
      [{ $and: [{ $gte: 1 }, { $lt: 5 }] }, 5, false],
      [{ $gte: 1, $lt: 5 }, 4, true],
      [{ $gte: 1, $lt: 5 }, 0, false],
    ];
    for (const [op, value, expected] of cases) expect({ op, value, matched: body({ x: op }, { x: value }) }).toEqual({ op, value, matched: expected });
  });

  test("a missing field fails every operator except $exists = false, $neq and $nin", () => {
    const passes = [{ $exists: false }, { $neq: "a" }, { $nin: ["a"] }];
    const fails = [
      "a", { $eq: "a" }, { $in: ["a"] }, { $gt: 0 }, { $gte: 0 }, { $lt: 0 }, { $lte: 0 },
      { $startsWith: "" }, { $endsWith: "" }, { $contains: "" }, { $exists: true }, { nested: { $exists: true } },
      // "level is not under 3" is a level of 3 or more, not "no level".
      { $not: { $lt: 3 } }, { $not: "a" },
    ];
    for (const op of passes) expect({ op, matched: body({ x: op }, { y: 1 }) }).toEqual({ op, matched: true });
    for (const op of fails) expect({ op, matched: body({ x: op }, { y: 1 }) }).toEqual({ op, matched: false });
    // Missing at any depth, or under a value that is not a table, is missing.
    expect(body({ a: { b: { $exists: false } } }, { a: "text" })).toBe(true);
    expect(body({ a: { b: { $exists: true } } }, { a: "text" })).toBe(false);
    expect(body({ a: { b: 1 } }, undefined)).toBe(false);
  });

  test("a value of another type fails the operator instead of throwing", () => {
    const cases: [Record<string, unknown>, unknown][] = [
      [{ $gt: 1 }, "abc"], [{ $gt: 1 }, [5]], [{ $gt: 1 }, { n: 5 }], [{ $gt: 1 }, true], [{ $gt: 1 }, null],
      [{ $startsWith: "a" }, 12], [{ $startsWith: "a" }, ["a"]], [{ $endsWith: "a" }, null],
      [{ $contains: "a" }, 1], [{ $contains: "a" }, { a: 1 }],
      [{ $eq: 5 }, "five"], [{ $eq: "5" }, 5], [{ $eq: true }, 1], [{ $in: [1, 2] }, { a: 1 }],
      [{ nested: 1 }, [1, 2]],
    ];
    for (const [op, value] of cases) expect({ op, value, matched: body({ x: op }, { x: value }) }).toEqual({ op, value, matched: false });
  });

  test("numbers and true/false in a filter also match the strings that spell them (form fields, headers, query)", () => {
    expect(body({ x: 50 }, { x: "50" })).toBe(true);
    expect(body({ x: { $gte: 10 } }, { x: "50.5" })).toBe(true);
    expect(body({ x: { $lt: 10 } }, { x: "-3" })).toBe(true);
    expect(body({ x: { $in: [1, 2] } }, { x: "2" })).toBe(true);
    expect(body({ x: true }, { x: "true" })).toBe(true);
    expect(body({ x: { $gte: 10 } }, { x: "" })).toBe(false);
    expect(body({ x: { $gte: 10 } }, { x: "0x20" })).toBe(false);
    expect(body({ x: { $gte: 10 } }, { x: " 50" })).toBe(false);
    expect(body({ x: { $neq: 50 } }, { x: "50" })).toBe(false);
  });

  test("a plain value against a list matches when an element equals it; $neq and $nin when none does", () => {
    expect(body({ tags: "vip" }, { tags: ["new", "vip"] })).toBe(true);
    expect(body({ tags: "vip" }, { tags: ["new"] })).toBe(false);
    expect(body({ tags: { $in: ["a", "vip"] } }, { tags: ["new", "vip"] })).toBe(true);
    expect(body({ tags: { $neq: "vip" } }, { tags: ["new", "vip"] })).toBe(false);
    expect(body({ tags: { $nin: ["vip"] } }, { tags: ["new"] })).toBe(true);
    // A number key reaches into a list.
    expect(body({ items: { "0": { sku: "A-1" } } }, { items: [{ sku: "A-1" }] })).toBe(true);
    expect(body({ items: { "1": { sku: { $exists: true } } } }, { items: [{ sku: "A-1" }] })).toBe(false);
  });

  test("$or, $and and $not nest at any level, over fields and over values", () => {
    const f = {
      $or: [
        { type: "order.refunded" },
        { $and: [{ data: { amount: { $gte: 100 } } }, { $not: { data: { currency: { $in: ["GBP", "CHF"] } } } }] },
      ],
      live: { $not: false },
    };
    expect(body(f, { type: "order.refunded", live: true })).toBe(true);
    expect(body(f, { type: "order.paid", live: true, data: { amount: 150, currency: "EUR" } })).toBe(true);
    expect(body(f, { type: "order.paid", live: true, data: { amount: 150, currency: "GBP" } })).toBe(false);
    expect(body(f, { type: "order.paid", live: true, data: { amount: 50, currency: "EUR" } })).toBe(false);
    expect(body(f, { type: "order.refunded", live: false })).toBe(false);
    expect(body({ $not: { $or: [{ a: 1 }, { b: 1 }] } }, { a: 2, b: 2 })).toBe(true);
    expect(body({ $not: { $or: [{ a: 1 }, { b: 1 }] } }, { a: 2, b: 1 })).toBe(false);
  });

  test("fields that only objects inherit (__proto__, constructor, toString) are missing, not matched", () => {
    expect(body({ constructor: { $exists: true } }, {})).toBe(false);
    expect(body({ toString: { $exists: false } }, { a: 1 })).toBe(true);
    expect(body(JSON.parse('{"__proto__": {"$exists": true}}'), JSON.parse('{"__proto__": 1}'))).toBe(true);
  });

  test("a form-encoded body is filtered as a flat table of its fields, read by the same field reader as event types", () => {
    const raw = "AccountSid=AC123&Direction=inbound&Amount=75.50&Body=Hello+there";
    const fields = makeFieldReader({
      headers: new Headers(),
      query: new URLSearchParams(),
      body: new TextEncoder().encode(raw),
      contentType: "application/x-www-form-urlencoded",
    });
    const f = { body: { Direction: "inbound", Amount: { $gt: 50 }, Body: { $startsWith: "Hello" } } };
    expect(run(f, { body: fields, headers: () => ({}), query: () => ({}) }).matched).toBe(true);
    expect(run({ body: { Direction: "outbound" } }, { body: fields, headers: () => ({}), query: () => ({}) }).reason).toBe(
      'body.Direction: "inbound" is not "outbound"',
    );
  });

  test("header names match whatever their case in the filter; header values are compared as written", () => {
    const headers = Object.fromEntries(new Headers({ "X-Shop-Domain": "acme.myshopify.com", "X-Attempt": "2" }));
    const on = input({}, headers);
    expect(run({ headers: { "X-Shop-Domain": "acme.myshopify.com" } }, on).matched).toBe(true);
    expect(run({ headers: { "x-shop-domain": "acme.myshopify.com", "X-ATTEMPT": { $lte: 3 } } }, on).matched).toBe(true);
    expect(run({ headers: { $or: [{ "X-Missing": "a" }, { "X-SHOP-DOMAIN": { $endsWith: ".myshopify.com" } }] } }, on).matched).toBe(true);
    expect(run({ headers: { "X-Shop-Domain": "ACME.myshopify.com" } }, on).matched).toBe(false);
  });

  test("body, headers and query must all match", () => {
    const on = input({ type: "a" }, { "x-env": "live" }, { env: "live" });
    expect(run({ body: { type: "a" }, headers: { "x-env": "live" }, query: { env: "live" } }, on).matched).toBe(true);
    expect(run({ body: { type: "a" }, headers: { "x-env": "live" }, query: { env: "test" } }, on)).toEqual({
      matched: false,
      reason: 'query.env: "live" is not "test"',
    });
  });
});

describe("reasons", () => {
  test("each failure is named by its path and says what was found and what was expected", () => {
    const reason = (filter: unknown, value: unknown) => run({ body: filter }, input(value)).reason;
    expect(reason({ data: { amount: { $gte: 10000 } } }, { data: { amount: 50 } })).toBe("body.data.amount: 50 is not >= 10000");
    expect(reason({ data: { amount: { $gte: 10000 } } }, { data: {} })).toBe("body.data.amount: missing (expected >= 10000)");
    expect(reason({ amount: { $gt: 1 } }, { amount: "abc" })).toBe('body.amount: "abc" is not a number (expected > 1)');
    expect(reason({ amount: { $lt: 1 } }, { amount: 2 })).toBe("body.amount: 2 is not < 1");
    expect(reason({ amount: { $lte: 1 } }, { amount: 2 })).toBe("body.amount: 2 is not <= 1");
    expect(reason({ cur: { $in: ["EUR", "USD"] } }, { cur: "GBP" })).toBe('body.cur: "GBP" is not one of ["EUR", "USD"]');
    expect(reason({ cur: { $nin: ["GBP"] } }, { cur: "GBP" })).toBe('body.cur: "GBP" is one of ["GBP"] (expected none of them)');
    expect(reason({ status: { $neq: "test" } }, { status: "test" })).toBe('body.status: "test" is "test" (expected anything else)');
    expect(reason({ type: "order.paid" }, { type: "order.created" })).toBe('body.type: "order.created" is not "order.paid"');
    expect(reason({ type: { $startsWith: "order." } }, { type: "refund" })).toBe('body.type: "refund" does not start with "order."');
    expect(reason({ type: { $endsWith: ".paid" } }, { type: 7 })).toBe('body.type: 7 is not a string (expected to end with ".paid")');
    expect(reason({ tags: { $contains: "vip" } }, { tags: ["a", "b"] })).toBe('body.tags: ["a", "b"] does not contain "vip"');
    expect(reason({ note: { $contains: "vip" } }, { note: { a: 1 } })).toBe('body.note: an object is neither a string nor a list (expected to contain "vip")');
    expect(reason({ test: { $exists: false } }, { test: true })).toBe("body.test: true is present (expected to be missing)");
    expect(reason({ id: { $exists: true } }, {})).toBe("body.id: missing (expected to exist)");
    expect(reason({ env: { $not: "test" } }, { env: "test" })).toBe('body.env: matches the "$not" filter');
    expect(reason({ "a.b": { c: 1 } }, { "a.b": { c: 2 } })).toBe('body["a.b"].c: 2 is not 1');
  });

  test("$or names every branch that failed; a table names its first failing field", () => {
    const reason = run(
      { body: { $or: [{ amount: { $gte: 100 } }, { vip: true }], type: "x" } },
      input({ amount: 5, type: "y" }),
    ).reason;
    expect(reason).toBe('body: none of the "$or" filters match (body.amount: 5 is not >= 100; body.vip: missing (expected true))');
  });

  test("long values are cut in reasons", () => {
    const reason = run({ body: { note: "short" } }, input({ note: "x".repeat(500) })).reason!;
    expect(reason.length).toBeLessThan(120);
    expect(reason).toStartWith('body.note: "xxxx');
    expect(reason).toContain("…");
  });
});

describe("validation", () => {
  const problems = (filter: unknown) => {
    const r = parseRouteFilter(filter);
    return r.ok ? [] : r.problems.map((p) => `${p.path.join(" ")}: ${p.message}`);
  };

  test("an unknown operator and a wrong operand type are named by their key paths, all at once", () => {
    expect(problems({ body: { data: { amount: { $gte: "x" }, currency: { $ni: ["EUR"] } } } })).toEqual([
      'body data amount $gte: expected a number, got "x"',
      "body data currency $ni: unknown operator; did you mean \"$nin\"?",
    ]);
  });

  test("each operator checks its operand", () => {
    expect(problems({ body: { a: { $eq: [1] } } })).toEqual(["body a $eq: expected a string, number or true/false, got a list"]);
    expect(problems({ body: { a: { $in: "EUR" } } })).toEqual(['body a $in: expected a non-empty list of strings, numbers or true/false, got "EUR"']);
    expect(problems({ body: { a: { $in: [] } } })).toEqual(["body a $in: expected a non-empty list of strings, numbers or true/false, got an empty list"]);
    expect(problems({ body: { a: { $nin: ["a", { b: 1 }] } } })).toEqual(["body a $nin 1: expected a string, number or true/false, got a table"]);
    expect(problems({ body: { a: { $lt: Infinity } } })).toEqual(["body a $lt: expected a number, got Infinity"]);
    expect(problems({ body: { a: { $startsWith: 1 } } })).toEqual(["body a $startsWith: expected a string, got 1"]);
    expect(problems({ body: { a: { $exists: "yes" } } })).toEqual(['body a $exists: expected true or false, got "yes"']);
    expect(problems({ body: { $or: { a: 1 } } })).toEqual(["body $or: expected a non-empty list of filters, got a table"]);
    expect(problems({ body: { $and: [{ a: { $gte: "1" } }] } })).toEqual(['body $and 0 a $gte: expected a number, got "1"']);
    expect(problems({ body: { $not: { a: { $Eq: 1 } } } })).toEqual(['body $not a $Eq: unknown operator; did you mean "$eq"?']);
    expect(problems({ body: { a: { $regex: "x" } } })[0]).toStartWith("body a $regex: unknown operator (expected one of $eq, $neq, $in, $nin,");
  });

  test("null, an empty table, an empty list or a list of tables is not a filter; a header's list is not either", () => {
    expect(problems({ body: { tags: [] } })).toEqual(['body tags: expected a non-empty list of values the field\'s list must all hold (use "$in" for one of several values)']);
    expect(problems({ body: { tags: [{ a: 1 }] } })).toEqual(["body tags 0: expected a string, number or true/false (a list in a filter is values the field's list must all hold), got a table"]);
    expect(problems({ headers: { "x-tag": ["a", "b"] } })).toEqual(['headers x-tag: expected a value or a table of operators, got a list (use "$in" for one of several values)']);
    expect(problems({ body: { a: null } })).toEqual(["body a: expected a string, number, true/false or a table, got null"]);
    expect(problems({ body: { a: {} } })).toEqual(["body a: expected at least one field or operator"]);
  });

  test("the filter table holds body, headers and query tables only", () => {
    expect(problems("x")).toEqual([': expected a table with body, headers or query, got "x"']);
    expect(problems({ bodyy: {} })).toEqual(['bodyy: unknown key (expected body, headers or query)']);
    expect(problems({ headers: "x-a" })).toEqual(['headers: expected a table, got "x-a"']);
  });

  test("headers and query are flat: a nested table or a value operator at their top is a problem", () => {
    expect(problems({ headers: { "x-a": { b: "c" } } })).toEqual(['headers x-a b: headers have no nested fields; expected an operator like "$eq"']);
    expect(problems({ query: { env: { live: true } } })).toEqual(['query env live: query parameters have no nested fields; expected an operator like "$eq"']);
    expect(problems({ headers: { $gte: 1 } })).toEqual(['headers $gte: expected a header name, "$or", "$and" or "$not" here']);
  });

  test("filters nested past the depth limit are refused, not followed", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { a: deep };
    expect(problems({ body: deep })[0]).toEndWith("nested deeper than 32 levels");
  });
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("fuzz", () => {
  test("a compiled filter never throws on any JSON value (2,000 random values, 200 random filters)", () => {
    const rnd = prng(1515);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const KEYS = ["a", "b", "0", "1", "__proto__", "constructor", "toString", "length", "a.b", ""];
    const scalar = (): string | number | boolean => pick([() => pick(["", "a", "50", "true", "x".repeat(300), "é✓"]), () => pick([0, -1, 1.5, 1e308, 50]), () => rnd() < 0.5])();
    const json = (depth: number): unknown => {
      const r = rnd();
      if (depth > 4 || r < 0.35) return pick([() => scalar(), () => null])();
      if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 4) }, () => json(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [pick(KEYS), json(depth + 1)]));
    };
    const filter = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.2) return scalar();
      if (r < 0.55) {
        const op = pick(["$eq", "$neq", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$startsWith", "$endsWith", "$contains", "$exists", "$not"]);
        const operand =
          op === "$in" || op === "$nin" ? [scalar(), scalar()]
          : op.startsWith("$g") || op.startsWith("$l") ? pick([0, 50, -2.5])
          : op === "$startsWith" || op === "$endsWith" ? pick(["", "a", "5"])
          : op === "$exists" ? rnd() < 0.5
          : op === "$not" ? filter(depth + 1)
          : scalar();
        return { [op]: operand };
      }
      if (r < 0.7) return { [pick(["$or", "$and"])]: [filter(depth + 1), filter(depth + 1)] };
      return { [pick(KEYS.filter((k) => k !== ""))]: filter(depth + 1) };
    };
    const tests = Array.from({ length: 200 }, () => {
      const spec = { body: { [pick(KEYS.slice(0, 4))]: filter(0) } };
      const parsed = parseRouteFilter(spec);
      if (!parsed.ok) throw new Error(`generated an invalid filter: ${JSON.stringify(spec)} ${JSON.stringify(parsed.problems)}`);
      return compileRouteFilter(parsed.filter);
    });
    let matched = 0;
    for (let i = 0; i < 2000; i++) {
      const value = json(0);
      const on = input(value);
      const t = tests[i % tests.length]!;
      const why: string[] = [];
      const verdict = t(on, why);
      expect(t(on, null)).toBe(verdict);
      if (verdict) matched++;
      else expect(why.length).toBeGreaterThan(0);
    }
    // Both verdicts occur: the generator is not degenerate.
    expect(matched).toBeGreaterThan(0);
    expect(matched).toBeLessThan(2000);
  });
});
