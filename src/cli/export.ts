/** `hookrelay export`: the stored events as NDJSON (core/export-line.ts), to a file or stdout, a page at a time. */
import { writeSync } from "node:fs";
import { exportLine } from "../core/export-line.ts";
import { counted, sizeText } from "../core/quantity-text.ts";
import { EVENT_STATUSES, type EventStatus } from "../store/admin-queries.ts";
import { exportEventPages, type ExportFilter } from "../store/event-transfer.ts";
import { openStoreReader } from "../store/index.ts";
import { badTimeFlag, parseFlags, parseTimeFlag, reportFlagProblems } from "./args.ts";
import { loadConfigOrReport } from "./load-config.ts";
import { reason, startOutputFile } from "./output-file.ts";
import { closestName } from "../config/did-you-mean.ts";
import { ALERT_SOURCE } from "../core/alert.ts";
import { TEST_SOURCE } from "../core/types.ts";

/** Exit 0 after writing every matching event; 1 on a bad config, flag, store or output; 2 on unknown flags. */
export async function runExport(args: string[]): Promise<number> {
  const parsed = parseFlags(args, {
    config: { type: "string", short: "c" },
    since: { type: "string" },
    until: { type: "string" },
    source: { type: "string" },
    status: { type: "string" },
    out: { type: "string", short: "o" },
    force: { type: "boolean" },
  });
  if (!parsed) return 2;
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const problems: string[] = [];
  const now = Date.now();
  const filter: ExportFilter = {};
  for (const key of ["since", "until"] as const) {
    if (typeof v[key] !== "string") continue;
    const t = parseTimeFlag(v[key] as string, now);
    if (t === null) problems.push(badTimeFlag(key, v[key] as string));
    else filter[key === "since" ? "sinceMs" : "untilMs"] = t;
  }
  if (filter.sinceMs !== undefined && filter.untilMs !== undefined && filter.sinceMs >= filter.untilMs)
    problems.push(`--since ${v.since} is not before --until ${v.until}: no event could match (a duration counts back from now: --since takes the longer one, as in --since 20m --until 10m)`);
  if (typeof v.status === "string") {
    if (!(EVENT_STATUSES as readonly string[]).includes(v.status)) problems.push(`--status: expected one of ${EVENT_STATUSES.join(", ")}, got "${v.status}"`);
    else filter.status = v.status as EventStatus;
  }
  if (typeof v.source === "string") filter.source = v.source;
  // Said, not ignored: whoever wrote it meant a file, and the export would go to the terminal.
  if (v.force === true && typeof v.out !== "string") problems.push("--force goes with --out FILE (it lets the export replace that file); without --out the export goes to standard output");
  if (reportFlagProblems("export", problems)) return 2;
  const loaded = await loadConfigOrReport(v.config as string | undefined);
  if (!loaded) return 1;
  const { config } = loaded;
  // Not refused: a source removed from the config may still have events stored. But a typo exports nothing, silently.
  const configured = [...config.sources.map((s) => s.name), ALERT_SOURCE, TEST_SOURCE];
  if (filter.source !== undefined && !configured.includes(filter.source)) {
    const near = closestName(filter.source, configured);
    process.stderr.write(`hookrelay export: note: no source named "${filter.source}" in the config${near === null ? "" : ` (did you mean "${near}"?)`}; exporting whatever events it left in the store\n`);
  }
  let store;
  try {
    store = await openStoreReader({ url: config.store.url, password: config.store.password, busyTimeoutMs: config.store.busyTimeoutMs });
  } catch (err) {
    process.stderr.write(`hookrelay export: cannot open the store: ${(err as Error).message}\n`);
    return 1;
  }
  const out = typeof v.out === "string" ? startOutputFile(v.out, v.force === true, store.filePath) : null;
  if (out && !out.ok) {
    store.close();
    process.stderr.write(`hookrelay export: ${out.error}\n`);
    return 1;
  }
  const file = out?.ok ? out.file : null;
  const stdout = file ? null : Bun.stdout.writer();
  let count = 0;
  let bytes = 0;
  try {
    for await (const page of exportEventPages(store.reads, filter)) {
      const chunk = page.map((e) => `${exportLine(e)}\n`).join("");
      if (file) writeAll(file.fd, chunk);
      else {
        stdout!.write(chunk);
        await stdout!.flush();
      }
      count += page.length;
      bytes += Buffer.byteLength(chunk);
    }
  } catch (err) {
    file?.abort();
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EPIPE" ? "the output was closed" : e.code ? reason(e) : e.message;
    process.stderr.write(`hookrelay export: ${why}; ${file ? "nothing written" : `stopped after ${counted(count, "event", "events")}`}\n`);
    return 1;
  } finally {
    store.close();
  }
  if (file) {
    const failed = file.commit();
    if (failed) {
      process.stderr.write(`hookrelay export: ${failed}\n`);
      return 1;
    }
    process.stdout.write(`exported ${counted(count, "event", "events")} to ${file.path} (${sizeText(bytes)})\n`);
  } else {
    await stdout!.end();
    process.stderr.write(`exported ${counted(count, "event", "events")}\n`);
  }
  return 0;
}

function writeAll(fd: number, chunk: string): void {
  const buf = Buffer.from(chunk);
  for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at);
}
