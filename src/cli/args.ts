/** Small wrapper over node:util parseArgs that turns bad flags into a message, not a stack. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closestName } from "../config/did-you-mean.ts";
import { parseDurationMs } from "../config/units.ts";
import { parseUtcTime } from "../core/time-text.ts";

export type Flags = Record<string, string | boolean | string[] | undefined>;

/** Parses `args` against `options`; on bad input prints the problem and returns null. */
export function parseFlags(args: string[], options: NonNullable<ParseArgsConfig["options"]>, allowPositionals = false) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals, strict: true, tokens: true });
    // A one-value option given twice would silently be the last: say so instead.
    const given = parsed.tokens.filter((t) => t.kind === "option" && options[t.name]?.type === "string" && !options[t.name]?.multiple).map((t) => (t as { name: string }).name);
    const twice = given.find((name, i) => given.indexOf(name) !== i);
    if (twice !== undefined) {
      process.stderr.write(`hookrelay: --${twice} given twice; it takes one value (--help lists the options)\n`);
      return null;
    }
    // `--config=` parses as an empty value: as much a missing value as `--config` at the end.
    const empty = Object.entries(parsed.values).find(([name, value]) => options[name]?.type === "string" && (value === "" || (Array.isArray(value) && value.includes(""))));
    if (empty) {
      process.stderr.write(`hookrelay: --${empty[0]} needs a value (--help lists the options)\n`);
      return null;
    }
    return parsed;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      // `hookrelay check hookrelay.toml`: a config file given where --config is meant.
      const arg = /'([^']*)'/.exec(e.message)?.[1];
      const hint = arg !== undefined && "config" in options && /\.toml$/i.test(arg) ? `; did you mean "--config ${arg}"?` : "";
      process.stderr.write(`hookrelay: unexpected argument ${arg === undefined ? "" : `"${arg}"`}: this command takes none${hint} (--help lists the options)\n`);
      return null;
    }
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /argument missing/.test(e.message)) {
      // node's words ("Option '-c, --config <value>' argument missing") name its parser's syntax.
      const flag = /--([a-z-]+)/.exec(e.message)?.[1];
      process.stderr.write(`hookrelay: ${flag === undefined ? e.message : `--${flag} needs a value`} (--help lists the options)\n`);
      return null;
    }
    if (e.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      process.stderr.write(`hookrelay: ${e.message}\n`);
      return null;
    }
    // A misspelt long option gets the nearest of this command's (as config keys get theirs).
    // Said in our words: node's own, for a command that takes positionals, ends in a quoted
    // aside about "--" that a suggestion appended to it would land inside.
    const flag = /'(-[^'=]+)/.exec(e.message)?.[1];
    const near = flag?.startsWith("--") ? closestName(flag.slice(2), Object.keys(options)) : null;
    const what = flag === undefined ? e.message : `unknown option ${flag}`;
    process.stderr.write(`hookrelay: ${what}${near === null ? "" : `; did you mean "--${near}"?`} (--help lists the options)\n`);
    return null;
  }
}

/** `2h` (that long ago) or an ISO 8601 time, as epoch ms; null when neither (export's and replay's --since). */
export function parseTimeFlag(value: string, nowMs: number): number | null {
  const d = parseDurationMs(value);
  if (d.ok) return nowMs - d.value;
  return parseUtcTime(value);
}

/** What a `--since`/`--until` value that neither form reads gets told. */
export function badTimeFlag(flag: string, value: string): string {
  return `--${flag}: expected a duration back from now (2h, 7d) or an ISO 8601 date or time (UTC unless it names its zone), got "${value}"`;
}

/** Writes a command's flag problems, one line each, all of them at once; true when there were any (the command exits 2). */
export function reportFlagProblems(command: string, problems: readonly string[]): boolean {
  for (const p of problems) process.stderr.write(`hookrelay ${command}: ${p}\n`);
  return problems.length > 0;
}
