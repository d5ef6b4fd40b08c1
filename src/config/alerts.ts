/**
 * The [alerts] rules that span keys: `to` names push targets that exist, and
 * no source takes the name of the built-in alert source. The table's own keys
 * (kinds with did-you-mean, durations) are checked by its schema.
 */
import { ALERT_SOURCE } from "../core/alert.ts";
import { didYouMean } from "./did-you-mean.ts";
import { isTable, type Path } from "./key-path.ts";
import type { RawAlerts } from "./schema.ts";
import type { AlertsConfig } from "./types.ts";

type Problem = (path: Path, message: string) => void;

/** The alerts config, or null after reporting each unknown or listen target in `to` under its key path. */
export function buildAlerts(parsed: RawAlerts, rawAlerts: unknown, rawTargets: unknown[], problem: Problem): AlertsConfig | null {
  const kinds = new Map<string, unknown>();
  for (const t of rawTargets) if (isTable(t) && typeof t.name === "string") kinds.set(t.name, t.kind ?? "push");
  const toIsList = isTable(rawAlerts) && Array.isArray(rawAlerts.to);
  let ok = true;
  parsed.to.forEach((name, k) => {
    const path: Path = toIsList ? ["alerts", "to", k] : ["alerts", "to"];
    if (!kinds.has(name)) {
      problem(path, `no target named "${name}"${didYouMean(name, [...kinds.keys()])}`);
      ok = false;
    } else if (kinds.get(name) === "listen") {
      problem(path, `"${name}" is a listen target; alerts go to push targets only`);
      ok = false;
    }
  });
  if (!ok) return null;
  return { to: [...new Set(parsed.to)], on: [...new Set(parsed.on)], staleAfterMs: parsed.stale_after, repeatAfterMs: parsed.repeat_after };
}

/** Reports every source named like the built-in alert source. */
export function checkReservedSourceNames(rawSources: unknown[], problem: Problem): void {
  rawSources.forEach((s, i) => {
    if (isTable(s) && s.name === ALERT_SOURCE) problem(["sources", i, "name"], `"${ALERT_SOURCE}" is the built-in source of alerts; choose another name`);
  });
}
