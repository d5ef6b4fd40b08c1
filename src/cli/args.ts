/** Small wrapper over node:util parseArgs that turns bad flags into a message, not a stack. */
import { parseArgs, type ParseArgsConfig } from "node:util";

export type Flags = Record<string, string | boolean | string[] | undefined>;

/** Parses `args` against `options`; on bad input prints the problem and returns null. */
export function parseFlags(args: string[], options: NonNullable<ParseArgsConfig["options"]>, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    process.stderr.write(`hookrelay: ${(err as Error).message}\n`);
    return null;
  }
}
