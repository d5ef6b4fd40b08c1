import { describe, expect, test } from "bun:test";
import { parseRouteFilter } from "./route-filter.ts";
import { compileRoutes, explainRoutes, requestView, routeTargets } from "./routing.ts";

const table = compileRoutes([
  { from: "shop", to: ["orders", "audit"], eventTypes: ["order.*"] },
  { from: "shop", to: ["audit"], eventTypes: null },
  { from: "git", to: ["ci"], eventTypes: ["push", "pull_request"] },
]);
/** A request with only an event type (no body, headers or query). */
const typed = (eventType: string | null) => requestView({ eventType, fields: () => undefined, headers: [], query: new URLSearchParams() });

test("an event goes to every target of every route from its source whose globs match, each once", () => {
  expect(routeTargets(table, "shop", typed("order.paid"))).toEqual(["orders", "audit"]);
  expect(routeTargets(table, "shop", typed("refund.created"))).toEqual(["audit"]);
});

test("routes from other sources never apply", () => {
  expect(routeTargets(table, "git", typed("order.paid"))).toEqual([]);
  expect(routeTargets(table, "nobody", typed("push"))).toEqual([]);
});

test("an event without a type matches only routes without globs", () => {
  expect(routeTargets(table, "shop", typed(null))).toEqual(["audit"]);
  expect(routeTargets(table, "git", typed(null))).toEqual([]);
});

describe("payload filters", () => {
  const filter = (f: unknown) => {
    const r = parseRouteFilter(f);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.filter;
  };
  const filtered = compileRoutes([
    { from: "shop", to: ["big-orders"], eventTypes: ["order.*"], filter: filter({ body: { data: { amount: { $gte: 10000 } } } }) },
    { from: "shop", to: ["acme"], eventTypes: null, filter: filter({ headers: { "X-Shop-Domain": "acme.myshopify.com" } }) },
    { from: "shop", to: ["live"], eventTypes: null, filter: filter({ query: { env: "live" } }) },
    { from: "git", to: ["ci"], eventTypes: null },
  ]);
  const view = (body: unknown, eventType: string | null = "order.paid", headers: [string, string][] = [], query = "") =>
    requestView({ eventType, fields: () => body, headers, query: new URLSearchParams(query) });

  test("an event goes only to the routes whose filters it matches", () => {
    expect(routeTargets(filtered, "shop", view({ data: { amount: 50 } }))).toEqual([]);
    expect(routeTargets(filtered, "shop", view({ data: { amount: 20000 } }))).toEqual(["big-orders"]);
    expect(routeTargets(filtered, "shop", view({ data: { amount: 20000 } }, "refund.created"))).toEqual([]);
    expect(routeTargets(filtered, "shop", view({}, "x", [["X-Shop-Domain", "acme.myshopify.com"]], "env=live&env=test"))).toEqual(["acme", "live"]);
  });

  test("a header filter compares the text a provider sent in UTF-8, not its bytes one character each", () => {
    const table = compileRoutes([{ from: "shop", to: ["zurich"], eventTypes: null, filter: filter({ headers: { "X-City": "zürich" } }) }]);
    // As Bun hands a header value over: one character per byte.
    const asReceived = Buffer.from("zürich", "utf8").toString("latin1");
    expect(routeTargets(table, "shop", view({}, "x", [["X-City", asReceived]]))).toEqual(["zurich"]);
  });

  test("the request view reads the body once and builds headers and query only when a filter asks", () => {
    let bodyReads = 0;
    let headerReads = 0;
    const headers = function* (): Generator<[string, string]> {
      headerReads++;
      yield ["x-shop-domain", "other"];
    };
    const v = requestView({ eventType: "order.paid", fields: () => (bodyReads++, { data: { amount: 1 } }), headers: { [Symbol.iterator]: headers }, query: new URLSearchParams() });
    routeTargets(compileRoutes([{ from: "git", to: ["ci"], eventTypes: null }]), "git", v);
    expect([bodyReads, headerReads]).toEqual([0, 0]);
    routeTargets(filtered, "shop", v);
    routeTargets(filtered, "shop", v);
    expect([bodyReads, headerReads]).toEqual([1, 1]);
  });

  test("each route's verdict comes with a human reason", () => {
    const verdicts = explainRoutes(filtered, "shop", view({ data: { amount: 50 } }, "order.paid", [["x-shop-domain", "acme.myshopify.com"]]));
    expect(verdicts).toEqual([
      { index: 0, from: "shop", to: ["big-orders"], matched: false, reason: "body.data.amount: 50 is not >= 10000" },
      { index: 1, from: "shop", to: ["acme"], matched: true, reason: 'every event type; headers match' },
      { index: 2, from: "shop", to: ["live"], matched: false, reason: "query.env: missing (expected \"live\")" },
      { index: 3, from: "git", to: ["ci"], matched: false, reason: 'from source "git", not "shop"' },
    ]);
    expect(explainRoutes(filtered, "shop", view({ data: { amount: 20000 } }, "invoice.paid"))[0]!.reason).toBe(
      'event type "invoice.paid" matches none of "order.*"',
    );
    expect(explainRoutes(filtered, "shop", view({ data: { amount: 20000 } }, null))[0]!.reason).toBe('the event has no type; the route takes only "order.*"');
    expect(explainRoutes(filtered, "shop", view({ data: { amount: 20000 } }))[0]).toMatchObject({
      matched: true,
      reason: 'event type "order.paid" matches "order.*"; body matches',
    });
    expect(explainRoutes(table, "git", view({}, "push"))[2]).toMatchObject({ matched: true, reason: 'event type "push" matches "push"' });
  });
});
