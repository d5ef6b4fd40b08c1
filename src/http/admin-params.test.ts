import { expect, test } from "bun:test";
import { HttpError } from "./http-error.ts";
import { parseEventFilter } from "./admin-params.ts";

const NOW = Date.UTC(2026, 11, 5, 23, 30);

test("the list's since/until take ms, a duration back from now, or an ISO 8601 time read as UTC unless it names its zone", () => {
  expect(parseEventFilter({ since: "2026-12-05 23:28:30" }, NOW).sinceMs).toBe(Date.UTC(2026, 11, 5, 23, 28, 30));
  expect(parseEventFilter({ since: "2026-12-05T23:28:30+05:30" }, NOW).sinceMs).toBe(Date.UTC(2026, 11, 5, 17, 58, 30));
  expect(parseEventFilter({ until: "2h" }, NOW).untilMs).toBe(NOW - 7_200_000);
  // A "+" not encoded in the URL arrives as a space.
  expect(parseEventFilter({ since: "2026-12-05T23:28:30 05:30" }, NOW).sinceMs).toBe(Date.UTC(2026, 11, 5, 17, 58, 30));
  expect(parseEventFilter({ since: String(NOW) }, NOW).sinceMs).toBe(NOW);
});

test("a since the runtime would guess at (Dec 5, 12/05/2026, 30 February) is a 400 naming the parameter", () => {
  for (const since of ["Dec 5", "12/05/2026", "2026-02-30"]) {
    const err = (() => {
      try {
        parseEventFilter({ since }, NOW);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as HttpError).message).toStartWith("since: must be ms since epoch, an ISO 8601 date or time (UTC unless it names its zone)");
  }
});

test("a since that is not before its until is a 400 saying so, not an empty list", () => {
  expect(() => parseEventFilter({ since: "2h", until: "3h" }, NOW)).toThrow("since: 2h is not before until 3h: no event could match");
  expect(() => parseEventFilter({ since: "999999999h" }, NOW)).toThrow("since: 999999999h back from now is before 1970");
  expect(parseEventFilter({ since: "3h", until: "2h" }, NOW)).toMatchObject({ sinceMs: NOW - 3 * 3_600_000, untilMs: NOW - 2 * 3_600_000 });
});
