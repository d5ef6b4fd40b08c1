/** Loads and validates the config for a command, printing problems the same way everywhere. */
import { resolve } from "node:path";
import { readConfigFile } from "../config/index.ts";
import type { Config } from "../config/types.ts";
import { stderrLine } from "../log/logger.ts";

export const DEFAULT_CONFIG_PATH = "hookrelay.toml";

/** The config, or null after printing every problem (key path first), then the warnings, to stderr. */
export async function loadConfigOrReport(path: string | undefined): Promise<{ config: Config; warnings: string[] } | null> {
  const file = resolve(path ?? DEFAULT_CONFIG_PATH);
  const result = await readConfigFile(file, process.env);
  if (!result.ok) {
    stderrLine("error", `hookrelay: ${file}: ${result.problems.length} problem(s)`);
    for (const p of result.problems) stderrLine("error", `  ${p}`);
    // Found in the same pass: showing them now saves a second round of fixes.
    for (const w of result.warnings ?? []) stderrLine("warn", `warning: ${w}`);
    return null;
  }
  return { config: result.config, warnings: result.warnings };
}
