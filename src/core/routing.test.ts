import { expect, test } from "bun:test";
import { compileRoutes, routeTargets } from "./routing.ts";

const table = compileRoutes([
  { from: "shop", to: ["orders", "audit"], eventTypes: ["order.*"] },
  { from: "shop", to: ["audit"], eventTypes: null },
  { from: "git", to: ["ci"], eventTypes: ["push", "pull_request"] },
]);

test("an event goes to every target of every route from its source whose globs match, each once", () => {
  expect(routeTargets(table, "shop", "order.paid")).toEqual(["orders", "audit"]);
  expect(routeTargets(table, "shop", "refund.created")).toEqual(["audit"]);
});

test("routes from other sources never apply", () => {
  expect(routeTargets(table, "git", "order.paid")).toEqual([]);
  expect(routeTargets(table, "nobody", "push")).toEqual([]);
});

test("an event without a type matches only routes without globs", () => {
  expect(routeTargets(table, "shop", null)).toEqual(["audit"]);
  expect(routeTargets(table, "git", null)).toEqual([]);
});
