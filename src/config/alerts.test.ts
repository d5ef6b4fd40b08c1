import { expect, test } from "bun:test";
import { ALERT_KINDS } from "../core/alert.ts";
import { loadConfig, type LoadResult } from "./load.ts";

const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

const BASE = `
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "lit-secret" }

[[targets]]
name = "orders"
url = "http://10.0.0.5:3000/webhooks"
signing = { secret = "${WHSEC}" }

[[targets]]
name = "ops"
url = "http://10.0.0.6:3000/alerts"
signing = { secret = "${WHSEC}" }
format = "slack"

[[targets]]
name = "alice"
kind = "listen"
token = "a-long-enough-listen-token"

[[routes]]
from = "ploints"
to = ["orders", "alice"]
`;

const load = (text: string): LoadResult => loadConfig(text, { env: {}, baseDir: "." });

function problemsOf(text: string): string[] {
  const result = load(text);
  if (result.ok) throw new Error("expected problems, config loaded");
  return result.problems;
}

test("an [alerts] table with only `to` takes every kind, stale_after 15m and repeat_after 1h", () => {
  const result = load(`${BASE}\n[alerts]\nto = ["ops"]\n`);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  expect(result.config.alerts).toEqual({ to: ["ops"], on: [...ALERT_KINDS], staleAfterMs: 15 * 60_000, repeatAfterMs: 3_600_000 });
  expect(result.config.targets.find((t) => t.name === "ops")!.format).toBe("slack");
  expect(result.config.targets.find((t) => t.name === "orders")!.format).toBe("raw");
  // An alert target needs no route: alerts reach it without one.
  expect(result.warnings).not.toContain('target "ops": no route sends to it');
});

test("without an [alerts] table there are no alerts", () => {
  const result = load(BASE);
  expect(result.ok && result.config.alerts).toBeNull();
});

test("`on`, stale_after and repeat_after are read as written", () => {
  const result = load(`${BASE}\n[alerts]\nto = "ops"\non = ["target.disabled", "queue.stale"]\nstale_after = "2m"\nrepeat_after = "10m"\n`);
  if (!result.ok) throw new Error(result.problems.join("\n"));
  expect(result.config.alerts).toEqual({ to: ["ops"], on: ["target.disabled", "queue.stale"], staleAfterMs: 120_000, repeatAfterMs: 600_000 });
});

test("check names the key of an unknown alert target, a listen target, a misspelt kind and a misspelt key", () => {
  const problems = problemsOf(`${BASE}
[alerts]
to = ["opz", "alice", "ops"]
on = ["target.disabled", "target.disabeld", "nonsense"]
repeat_afer = "1h"
stale_after = 5
`);
  expect(problems).toContain('alerts.to[0]: no target named "opz"; did you mean "ops"?');
  expect(problems).toContain('alerts.to[1]: "alice" is a listen target; alerts go to push targets only');
  expect(problems.find((p) => p.startsWith("alerts.on[1]:"))).toContain('got "target.disabeld"; did you mean "target.disabled"?');
  expect(problems.find((p) => p.startsWith("alerts.on[2]:"))).toContain('expected an alert kind (target.disabled, ');
  expect(problems).toContain('alerts.repeat_afer: unknown key; did you mean "repeat_after"?');
  expect(problems.find((p) => p.startsWith("alerts.stale_after:"))).toContain("expected a duration");
  expect(problems.filter((p) => p.startsWith("alerts."))).toHaveLength(6);
});

test("an [alerts] table without `to` is refused", () => {
  expect(problemsOf(`${BASE}\n[alerts]\non = ["queue.stale"]\n`)).toContain("alerts.to: required");
});

test("a source may not take the name of the built-in alert source", () => {
  const problems = problemsOf(BASE.replace('name = "ploints"', 'name = "hookrelay"').replace('from = "ploints"', 'from = "hookrelay"'));
  expect(problems).toContain('sources[0].name: "hookrelay" is the built-in source of alerts; choose another name');
});

test("a misspelt target format gets a suggestion", () => {
  expect(problemsOf(BASE.replace('format = "slack"', 'format = "slak"'))).toContain('targets[1].format: expected "raw" or "slack", got "slak"; did you mean "slack"?');
});
