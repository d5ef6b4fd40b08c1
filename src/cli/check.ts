/** `hookrelay check`: validate the config, print every problem with its key path. */
import { parseFlags } from "./args.ts";
import { loadConfigOrReport } from "./load-config.ts";

/** Exit code 0 when the config is valid, 1 otherwise. */
export async function runCheck(args: string[]): Promise<number> {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" } });
  if (!parsed) return 2;
  const loaded = await loadConfigOrReport(parsed.values.config as string | undefined);
  if (!loaded) return 1;
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const c = loaded.config;
  process.stdout.write(
    `config ok: ${c.sources.length} source(s), ${c.targets.length} target(s), ${c.routes.length} route(s)\n`,
  );
  return 0;
}
