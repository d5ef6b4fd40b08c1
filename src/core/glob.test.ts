import { expect, test } from "bun:test";
import { globToRegExp, matchesAnyGlob } from "./glob.ts";

test("a star glob matches the event types under a prefix and nothing else", () => {
  const g = [globToRegExp("points.*")];
  expect(matchesAnyGlob(g, "points.earned")).toBe(true);
  expect(matchesAnyGlob(g, "customer.created")).toBe(false);
  expect(matchesAnyGlob(g, "pointsXearned")).toBe(false);
  expect(matchesAnyGlob(g, null)).toBe(false);
  expect(matchesAnyGlob(null, null)).toBe(true);
});

test("a star matches line breaks and separators too, and ? one character however it is encoded", () => {
  expect(matchesAnyGlob([globToRegExp("*")], "inj\r\nX-Injected: yes")).toBe(true);
  expect(matchesAnyGlob([globToRegExp("inj*")], "injé✓\u2028x")).toBe(true);
  expect(matchesAnyGlob([globToRegExp("party.?")], "party.🎉")).toBe(true);
});
