/**
 * An event type is whatever the provider's JSON holds. One a header cannot
 * carry as it is (`✓`, a line break, a control character) used to fail every
 * attempt inside the relay, counted against a target that answered 200, until
 * its circuit opened for every other event. Now it is delivered, percent-encoded.
 */
import { afterEach, expect, test } from "bun:test";
import { recordingTarget, runCleanups } from "./fixtures.ts";
import { rows, startTestRelay } from "../support/relay.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(() => runCleanups(cleanups));

test("an event type with characters a header cannot carry is delivered, percent-encoded, and the target stays healthy", async () => {
  const target = recordingTarget(cleanups);
  const relay = await startTestRelay(
    `
[[sources]]
name = "gen"
verify = { scheme = "none" }
dedupe = { key = ["$.id"] }
event_type = "$.type"
[[targets]]
name = "t"
url = "${target.url}"
signing = { secret = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=" }
[[routes]]
from = "gen"
to = ["t"]
event_types = ["points.*"]
`,
    { engine: { pollMs: 50 } },
  );
  cleanups.unshift(() => relay.close());
  const types = ["points.earned·bonus✓", "points.inj\r\nX-Injected: yes", "points.ctl\u0001", "points.50%"];
  for (const [i, type] of types.entries()) expect((await relay.post("gen", JSON.stringify({ id: `e${i}`, type }))).status).toBe(200);
  await target.until(types.length);
  const sent = target.received.map((r) => r.headers.get("hookrelay-event-type")!).sort();
  // Control characters were stored as U+FFFD (a label, not data); the rest decodes back exactly.
  expect(sent.map(decodeURIComponent).sort()).toEqual(["points.earned·bonus✓", "points.inj\ufffd\ufffdX-Injected: yes", "points.ctl\ufffd", "points.50%"].sort());
  expect(sent).toContain("points.earned%C2%B7bonus%E2%9C%93");
  expect(target.received.every((r) => r.headers.get("x-injected") === null)).toBe(true);
  const open = async () => Number((await rows(relay.store, "SELECT count(*) AS n FROM deliveries WHERE status <> 'delivered'"))[0]!.n);
  for (let i = 0; i < 250 && (await open()) > 0; i++) await Bun.sleep(20);
  expect(await open()).toBe(0);
  const failures = await rows(relay.store, "SELECT consecutive_failures AS n FROM target_state WHERE name = 't'");
  expect(Number(failures[0]?.n ?? 0)).toBe(0);
});
