/** `hookrelay replay`: schedule new deliveries for stored events and print how many. */
import { counted } from "../core/quantity-text.ts";
import { replay } from "../delivery/replay.ts";
import { openStore } from "../store/index.ts";
import { storeNotices } from "./store-notices.ts";
import { DELIVERY_STATUSES, OPEN_STATUSES } from "../core/types.ts";
import type { ReplayStatus } from "../store/redeliver.ts";
import { badTimeFlag, parseFlags, parseTimeFlag, reportFlagProblems } from "./args.ts";
import { loadConfigOrReport } from "./load-config.ts";
import { closestName } from "../config/did-you-mean.ts";

// An open delivery (pending, delivering, paused) is never replayed (redeliver.ts): those statuses would match nothing.
const OPEN: readonly string[] = OPEN_STATUSES;
const STATUSES: ReplayStatus[] = [...DELIVERY_STATUSES.filter((s) => !OPEN.includes(s)), "unrouted"];

/** Exit 0 after printing the count; 1 on a bad config, flag or store. */
export async function runReplay(args: string[]): Promise<number> {
  const parsed = parseFlags(args, {
    config: { type: "string", short: "c" },
    source: { type: "string" },
    target: { type: "string" },
    since: { type: "string" },
    status: { type: "string" },
    "dry-run": { type: "boolean" },
  });
  if (!parsed) return 2;
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const problems: string[] = [];
  let sinceMs: number | undefined;
  if (typeof v.since === "string") {
    const t = parseTimeFlag(v.since, Date.now());
    if (t !== null) sinceMs = t;
    else problems.push(badTimeFlag("since", v.since));
  }
  const status = v.status as ReplayStatus | undefined;
  if (status !== undefined && OPEN.includes(status)) {
    problems.push(`--status ${status}: a delivery still open is on its way and never replayed (a paused one goes once its target is enabled; "Retry now" sends one at once)`);
  } else if (status !== undefined && !STATUSES.includes(status)) problems.push(`--status: expected one of ${STATUSES.join(", ")}, got "${status}"`);
  // What the flags say alone is checked first; names against the config once it is loaded.
  if (reportFlagProblems("replay", problems)) return 2;
  const loaded = await loadConfigOrReport(v.config as string | undefined);
  if (!loaded) return 1;
  const { config } = loaded;
  const unknown = (flag: string, value: string, names: string[]) => {
    const near = closestName(value, names);
    problems.push(`--${flag}: no ${flag} named "${value}"${near === null ? "" : `; did you mean "${near}"?`}`);
  };
  if (typeof v.source === "string" && !config.sources.some((s) => s.name === v.source)) unknown("source", v.source, config.sources.map((s) => s.name));
  if (typeof v.target === "string" && !config.targets.some((t) => t.name === v.target)) unknown("target", v.target, config.targets.map((t) => t.name));
  if (reportFlagProblems("replay", problems)) return 2;
  const dryRun = v["dry-run"] === true;
  let store;
  try {
    store = await openStore({
      url: config.store.url, password: config.store.password, busyTimeoutMs: config.store.busyTimeoutMs, nowMs: Date.now,
      checkpointEveryMs: 0, mustExist: true, inlineWriter: true,
      migrations: dryRun ? "refuse" : "apply", log: storeNotices("replay"),
    });
  } catch (err) {
    process.stderr.write(`hookrelay replay: cannot open the store: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const count = await replay(store, config, {
      source: v.source as string | undefined,
      target: v.target as string | undefined,
      sinceMs,
      status,
      dryRun,
    });
    const deliveries = counted(count, "delivery", "deliveries");
    process.stdout.write(dryRun ? `would schedule ${deliveries} (dry run)\n` : `scheduled ${deliveries}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
