/**
 * A route's payload filter (SPEC.md "Routes: payload filters"): conditions on
 * the request's body, headers and query in the operator syntax Hookdeck and
 * Outpost users know. Checked once (parseRouteFilter: every problem with its
 * key path) into plain data, compiled once (compileRouteFilter) into closures;
 * an event then costs a walk down those closures, never a look at the TOML.
 *
 * One compiled function serves routing and its explanation: called with a
 * `why` list it also records why it failed, called with null (the ingest
 * path) it builds no strings.
 */

/** A value a filter compares with. */
export type Scalar = string | number | boolean;

/** A condition on one value, as validated. A table is "all" of its entries. */
export type FilterCondition =
  | { op: "$eq" | "$neq" | "$contains"; value: Scalar }
  | { op: "$in" | "$nin"; values: Scalar[] }
  | { op: "$gt" | "$gte" | "$lt" | "$lte"; value: number }
  | { op: "$startsWith" | "$endsWith"; value: string }
  | { op: "$exists"; value: boolean }
  | { op: "$not"; filter: FilterCondition }
  | { op: "$or" | "$and" | "all"; filters: FilterCondition[] }
  | { op: "field"; key: string; filter: FilterCondition };

/** The three parts a route may filter on; null = no condition. */
export interface RouteFilter {
  body: FilterCondition | null;
  headers: FilterCondition | null;
  query: FilterCondition | null;
}

/** A problem in a filter, at a key path below `filter` (`["body", "data", "amount", "$gte"]`). */
export interface FilterProblem {
  path: (string | number)[];
  message: string;
}

/** What a filter reads of one request; each is read at most once, when a filter needs it. */
export interface FilterInput {
  /** Parsed JSON, a form body's fields, or undefined (neither). */
  body: () => unknown;
  /** Lower-cased header names. */
  headers: () => Readonly<Record<string, string>>;
  query: () => Readonly<Record<string, string>>;
}

/** A compiled filter: true when the request matches; on false, pushes its reason to `why` (when given). */
export type CompiledFilter = (input: FilterInput, why: string[] | null) => boolean;

export const FILTER_OPERATORS = [
  "$eq", "$neq", "$in", "$nin", "$gt", "$gte", "$lt", "$lte",
  "$startsWith", "$endsWith", "$contains", "$exists", "$not", "$or", "$and",
] as const;
const PARTS = ["body", "headers", "query"] as const;
type Part = (typeof PARTS)[number];
/** Filters nest at most this deep: a filter from the API cannot exhaust the stack. */
const MAX_DEPTH = 32;
const REASON_VALUE_CHARS = 60;

// ---------------------------------------------------------------------------
// Validation: raw TOML/JSON → FilterCondition, collecting every problem.

/**
 * Validates a `filter` table (`{body, headers, query}`) into a RouteFilter, or
 * lists every problem with its key path. Header names are lower-cased here.
 *
 * @example parseRouteFilter({ body: { amount: { $gte: "x" } } }) // { ok: false, problems: [{ path: ["body", "amount", "$gte"], message: 'expected a number, got "x"' }] }
 */
export function parseRouteFilter(input: unknown): { ok: true; filter: RouteFilter } | { ok: false; problems: FilterProblem[] } {
  const problems: FilterProblem[] = [];
  const filter: RouteFilter = { body: null, headers: null, query: null };
  if (!isTable(input)) {
    problems.push({ path: [], message: `expected a table with body, headers or query, got ${describeInput(input)}` });
    return { ok: false, problems };
  }
  for (const key of Object.keys(input)) {
    if (!(PARTS as readonly string[]).includes(key)) {
      problems.push({ path: [key], message: "unknown key (expected body, headers or query)" });
      continue;
    }
    const part = key as Part;
    const value = input[part];
    if (!isTable(value)) problems.push({ path: [part], message: `expected a table, got ${describeInput(value)}` });
    else filter[part] = new FilterParser(part, problems).table(value, [part], "container", 1);
  }
  return problems.length === 0 ? { ok: true, filter } : { ok: false, problems };
}

/** "container": the level whose keys name fields; "value": below a header or query parameter (flat parts only). */
type Level = "container" | "value";

class FilterParser {
  constructor(
    private part: Part,
    private problems: FilterProblem[],
  ) {}

  private problem(path: (string | number)[], message: string): null {
    this.problems.push({ path, message });
    return null;
  }

  /** Headers and query are flat: their fields hold strings, never tables. */
  private get flat(): boolean {
    return this.part !== "body";
  }

  /** A sub-filter: a plain value (equality) or a table. */
  filter(input: unknown, path: (string | number)[], level: Level, depth: number): FilterCondition | null {
    if (isTable(input)) return this.table(input, path, level, depth);
    if (isScalar(input)) {
      if (this.flat && level === "container") return this.problem(path, `expected a table of ${this.fieldNames()}, got ${describeInput(input)}`);
      return { op: "$eq", value: input };
    }
    // A list, as Hookdeck's filters read one: the field is a list holding every one of these values.
    if (Array.isArray(input)) {
      if (this.flat) return this.problem(path, `expected a value or a table of operators, got a list (use "$in" for one of several values)`);
      if (input.length === 0) return this.problem(path, 'expected a non-empty list of values the field\'s list must all hold (use "$in" for one of several values)');
      let ok = true;
      input.forEach((v, i) => {
        if (!isScalar(v)) ok = this.problem([...path, i], `expected a string, number or true/false (a list in a filter is values the field's list must all hold), got ${describeInput(v)}`) ?? false;
      });
      if (!ok) return null;
      const holds = (input as Scalar[]).map((value): FilterCondition => ({ op: "$eq", value }));
      return holds.length === 1 ? holds[0]! : { op: "all", filters: holds };
    }
    return this.problem(path, `expected a string, number, true/false or a table, got ${describeInput(input)}`);
  }

  /** A table: every entry must hold; keys starting with "$" are operators, others fields. */
  table(input: Record<string, unknown>, path: (string | number)[], level: Level, depth: number): FilterCondition | null {
    if (depth > MAX_DEPTH) return this.problem(path, `nested deeper than ${MAX_DEPTH} levels`);
    const keys = Object.keys(input);
    if (keys.length === 0) return this.problem(path, "expected at least one field or operator");
    const filters: (FilterCondition | null)[] = keys.map((key) =>
      key.startsWith("$") ? this.operator(key, input[key], [...path, key], level, depth) : this.field(key, input[key], [...path, key], level, depth),
    );
    if (filters.some((f) => f === null)) return null;
    return filters.length === 1 ? filters[0]! : { op: "all", filters: filters as FilterCondition[] };
  }

  private field(key: string, input: unknown, path: (string | number)[], level: Level, depth: number): FilterCondition | null {
    if (this.flat && level === "value") {
      const what = this.part === "headers" ? "headers have" : "query parameters have";
      return this.problem(path, `${what} no nested fields; expected an operator like "$eq"`);
    }
    const filter = this.filter(input, path, "value", depth + 1);
    if (filter === null) return null;
    return { op: "field", key: this.part === "headers" ? key.toLowerCase() : key, filter };
  }

  private operator(key: string, operand: unknown, path: (string | number)[], level: Level, depth: number): FilterCondition | null {
    // Hookdeck's (and Outpost's) spelling of $exists, so that a filter pasted from there is taken as written.
    const name = key === "$exist" ? "$exists" : key;
    const op = (FILTER_OPERATORS as readonly string[]).includes(name) ? (name as (typeof FILTER_OPERATORS)[number]) : null;
    if (op === null) return this.problem(path, `unknown operator${operatorHint(key)}`);
    const logical = op === "$or" || op === "$and" || op === "$not";
    if (this.flat && level === "container" && !logical) {
      const name = this.part === "headers" ? "a header name" : "a parameter name";
      return this.problem(path, `expected ${name}, "$or", "$and" or "$not" here`);
    }
    const got = () => describeInput(operand);
    switch (op) {
      case "$eq":
      case "$neq":
      case "$contains":
        return isScalar(operand) ? { op, value: operand } : this.problem(path, `expected a string, number or true/false, got ${got()}`);
      case "$in":
      case "$nin": {
        const what = "expected a non-empty list of strings, numbers or true/false";
        if (!Array.isArray(operand) || operand.length === 0) return this.problem(path, `${what}, got ${Array.isArray(operand) ? "an empty list" : got()}`);
        let ok = true;
        operand.forEach((v, i) => {
          if (!isScalar(v)) ok = this.problem([...path, i], `expected a string, number or true/false, got ${describeInput(v)}`) ?? false;
        });
        return ok ? { op, values: operand as Scalar[] } : null;
      }
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        return typeof operand === "number" && Number.isFinite(operand) ? { op, value: operand } : this.problem(path, `expected a number, got ${got()}`);
      case "$startsWith":
      case "$endsWith":
        return typeof operand === "string" ? { op, value: operand } : this.problem(path, `expected a string, got ${got()}`);
      case "$exists":
        return typeof operand === "boolean" ? { op, value: operand } : this.problem(path, `expected true or false, got ${got()}`);
      case "$not": {
        const filter = this.filter(operand, path, level, depth + 1);
        return filter && { op, filter };
      }
      case "$or":
      case "$and": {
        if (!Array.isArray(operand) || operand.length === 0) return this.problem(path, `expected a non-empty list of filters, got ${Array.isArray(operand) ? "an empty list" : got()}`);
        const filters = operand.map((f, i) => this.filter(f, [...path, i], level, depth + 1));
        return filters.some((f) => f === null) ? null : { op, filters: filters as FilterCondition[] };
      }
    }
  }

  private fieldNames(): string {
    return this.part === "headers" ? "header names" : "parameter names";
  }
}

/** `; did you mean "$nin"?` for a case slip or a unique prefix either way, else the list of operators. */
function operatorHint(key: string): string {
  const k = key.toLowerCase();
  const exact = FILTER_OPERATORS.filter((op) => op.toLowerCase() === k);
  const near = exact.length > 0 ? exact : FILTER_OPERATORS.filter((op) => k.length >= 3 && (op.toLowerCase().startsWith(k) || k.startsWith(op.toLowerCase())));
  if (near.length === 1) return `; did you mean "${near[0]}"?`;
  return ` (expected one of ${FILTER_OPERATORS.join(", ")})`;
}

// ---------------------------------------------------------------------------
// Compilation: FilterCondition → closures over a value.

/** A compiled condition on one value (undefined = missing). */
type Test = (x: unknown, why: string[] | null) => boolean;

/** Compiles a validated filter once; the result is called per event. */
export function compileRouteFilter(filter: RouteFilter): CompiledFilter {
  const body = filter.body && compile(filter.body, "body");
  const headers = filter.headers && compile(filter.headers, "headers");
  const query = filter.query && compile(filter.query, "query");
  return (input, why) =>
    (body === null || body(input.body(), why)) &&
    (headers === null || headers(input.headers(), why)) &&
    (query === null || query(input.query(), why));
}

function compile(c: FilterCondition, at: string): Test {
  switch (c.op) {
    case "field": {
      const key = c.key;
      const child = compile(c.filter, at + showKey(key));
      return (x, why) => child(fieldOf(x, key), why);
    }
    case "all":
    case "$and": {
      const parts = c.filters.map((f) => compile(f, at));
      return (x, why) => {
        for (const p of parts) if (!p(x, why)) return false;
        return true;
      };
    }
    case "$or": {
      const parts = c.filters.map((f) => compile(f, at));
      return (x, why) => {
        const sub: string[] | null = why && [];
        for (const p of parts) if (p(x, sub)) return true;
        why?.push(`${at}: none of the "$or" filters match (${sub!.join("; ")})`);
        return false;
      };
    }
    case "$not": {
      const inner = compile(c.filter, at);
      return (x, why) => {
        // A missing field fails "$not" too, as every operator but $exists = false, $neq and $nin:
        // `level = {"$not" = {"$lt" = 3}}` means a level of 3 or more, not "no level".
        if (x === undefined) {
          why?.push(`${at}: missing (expected a value that does not match the "$not" filter)`);
          return false;
        }
        if (!inner(x, null)) return true;
        why?.push(`${at}: matches the "$not" filter`);
        return false;
      };
    }
    default:
      return compileComparison(c, at);
  }
}

type Comparison = Exclude<FilterCondition, { op: "field" | "all" | "$and" | "$or" | "$not" }>;

/** A leaf operator: how it tests a present value, what it says when that fails, and whether a missing value passes. */
function compileComparison(c: Comparison, at: string): Test {
  const { test, expected, failure, missingPasses } = comparison(c);
  return (x, why) => {
    if (x === undefined) {
      if (missingPasses) return true;
      why?.push(`${at}: missing (expected ${expected})`);
      return false;
    }
    if (test(x)) return true;
    why?.push(`${at}: ${failure(x)}`);
    return false;
  };
}

function comparison(c: Comparison): { test: (x: unknown) => boolean; expected: string; failure: (x: unknown) => string; missingPasses: boolean } {
  const show = describeValue;
  switch (c.op) {
    case "$eq": {
      const v = c.value;
      return { test: (x) => equalsOrHas(x, v), expected: show(v), failure: (x) => `${show(x)} is not ${show(v)}`, missingPasses: false };
    }
    case "$neq": {
      const v = c.value;
      return { test: (x) => !equalsOrHas(x, v), expected: `not ${show(v)}`, failure: (x) => `${show(x)} is ${show(v)} (expected anything else)`, missingPasses: true };
    }
    case "$in": {
      const vs = c.values;
      const list = `[${vs.map(show).join(", ")}]`;
      return { test: (x) => vs.some((v) => equalsOrHas(x, v)), expected: `one of ${list}`, failure: (x) => `${show(x)} is not one of ${list}`, missingPasses: false };
    }
    case "$nin": {
      const vs = c.values;
      const list = `[${vs.map(show).join(", ")}]`;
      return { test: (x) => !vs.some((v) => equalsOrHas(x, v)), expected: `none of ${list}`, failure: (x) => `${show(x)} is one of ${list} (expected none of them)`, missingPasses: true };
    }
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      const v = c.value;
      const sign = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[c.op];
      const holds = { $gt: (n: number) => n > v, $gte: (n: number) => n >= v, $lt: (n: number) => n < v, $lte: (n: number) => n <= v }[c.op];
      const expected = `${sign} ${v}`;
      return {
        test: (x) => {
          const n = asNumber(x);
          return n !== null && holds(n);
        },
        expected,
        failure: (x) => (asNumber(x) === null ? `${show(x)} is not a number (expected ${expected})` : `${show(x)} is not ${expected}`),
        missingPasses: false,
      };
    }
    case "$startsWith":
    case "$endsWith": {
      const v = c.value;
      const starts = c.op === "$startsWith";
      const verb = starts ? "start" : "end";
      const expected = `to ${verb} with ${show(v)}`;
      return {
        test: (x) => typeof x === "string" && (starts ? x.startsWith(v) : x.endsWith(v)),
        expected,
        failure: (x) => (typeof x === "string" ? `${show(x)} does not ${verb} with ${show(v)}` : `${show(x)} is not a string (expected ${expected})`),
        missingPasses: false,
      };
    }
    case "$contains": {
      const v = c.value;
      const expected = `to contain ${show(v)}`;
      return {
        test: (x) => (typeof x === "string" ? x.includes(String(v)) : Array.isArray(x) && x.some((el) => equals(el, v))),
        expected,
        failure: (x) =>
          typeof x === "string" || Array.isArray(x) ? `${show(x)} does not contain ${show(v)}` : `${show(x)} is neither a string nor a list (expected ${expected})`,
        missingPasses: false,
      };
    }
    case "$exists": {
      const v = c.value;
      return {
        test: () => v,
        expected: v ? "to exist" : "to be missing",
        failure: (x) => `${show(x)} is present (expected to be missing)`,
        missingPasses: !v,
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Values.

/** A JSON number as written: no blanks, no hex, no Infinity (Number("") is 0, Number(" 5") is 5). */
const NUMERIC = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The number `x` is or spells; null otherwise. Headers, query and form fields are strings. */
function asNumber(x: unknown): number | null {
  if (typeof x === "number") return x;
  if (typeof x === "string" && NUMERIC.test(x)) return Number(x);
  return null;
}

/** `x` equals `v`; a string that spells the number or true/false `v` counts. */
function equals(x: unknown, v: Scalar): boolean {
  if (x === v) return true;
  if (typeof x !== "string") return false;
  if (typeof v === "number") return NUMERIC.test(x) && Number(x) === v;
  if (typeof v === "boolean") return x === String(v);
  return false;
}

/** Equality, or for a list: one of its elements equals `v` (the array match Hookdeck users know). */
function equalsOrHas(x: unknown, v: Scalar): boolean {
  return Array.isArray(x) ? x.some((el) => equals(el, v)) : equals(x, v);
}

const INDEX = /^(?:0|[1-9]\d{0,8})$/;

/** The field `key` of `x`: own properties only (never `constructor`), a list's element by its index. */
function fieldOf(x: unknown, key: string): unknown {
  if (typeof x !== "object" || x === null) return undefined;
  if (Array.isArray(x)) return INDEX.test(key) ? x[Number(key)] : undefined;
  return Object.hasOwn(x, key) ? (x as Record<string, unknown>)[key] : undefined;
}

function isTable(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !isDateLike(x);
}

function isScalar(x: unknown): x is Scalar {
  return typeof x === "string" || typeof x === "boolean" || (typeof x === "number" && Number.isFinite(x));
}

// TOML dates and times parse to objects that print as written.
function isDateLike(x: object): boolean {
  return x instanceof Date || "epochMilliseconds" in x;
}

/** A config or API input in a problem message: `"x"`, `12`, `a list`, `a table`. */
function describeInput(x: unknown): string {
  if (x === undefined) return "nothing";
  if (x === null) return "null";
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return "a list";
  if (typeof x === "object") return isDateLike(x) ? String(x) : "a table";
  return String(x);
}

/** A request's value in a reason, cut to a readable length. */
function describeValue(x: unknown): string {
  if (typeof x === "string") return cut(JSON.stringify(x.length > REASON_VALUE_CHARS ? x.slice(0, REASON_VALUE_CHARS) : x), x.length > REASON_VALUE_CHARS);
  if (Array.isArray(x)) {
    const shown: string[] = [];
    let chars = 0;
    for (const el of x) {
      if (chars > REASON_VALUE_CHARS) break;
      const s = isScalar(el) || el === null ? describeValue(el) : Array.isArray(el) ? "[…]" : "{…}";
      shown.push(s);
      chars += s.length + 2;
    }
    return `[${shown.join(", ")}${shown.length < x.length ? ", …" : ""}]`;
  }
  if (x === null) return "null";
  if (typeof x === "object") return "an object";
  return String(x);
}

/** A JSON string literal cut short: the closing quote after an ellipsis. */
function cut(literal: string, wasCut: boolean): string {
  return wasCut ? `${literal.slice(0, -1)}…"` : literal;
}

/** `.key` for a plain key, `["a.b"]` for any other, as reasons show paths. */
function showKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
