/**
 * `hookrelay init`: writes the example config (every key, its default where
 * it has one, a demo source and target) where `serve` looks for its config,
 * so that someone holding only the binary has a file to start from. The
 * example is the one `npm start` runs, built into the binary.
 */
import { existsSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import example from "../../hookrelay.example.toml" with { type: "text" };
import { parseFlags } from "./args.ts";
import { DEFAULT_CONFIG_PATH } from "./load-config.ts";

/** Exit 0 once written; 1 when the file exists (without --force) or cannot be written; 2 on bad flags. */
export function runInit(args: string[]): number {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" }, force: { type: "boolean" } });
  if (!parsed) return 2;
  const path = (parsed.values.config as string | undefined) ?? DEFAULT_CONFIG_PATH;
  const file = resolve(path);
  if (existsSync(file) && !parsed.values.force) {
    process.stderr.write(`hookrelay init: ${file} exists; left as it is (--force replaces it)\n`);
    return 1;
  }
  const flag = path === DEFAULT_CONFIG_PATH ? "" : ` --config ${path}`;
  try {
    // Owner-only: the file will hold secrets once the demo literals are replaced. Its header's
    // commands name the file they are read from in the repository; here, the one just written.
    writeFileSync(file, example.replaceAll(" --config hookrelay.example.toml", flag), { mode: 0o600 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? `the folder ${dirname(file)} does not exist` : code === "EACCES" ? "permission denied" : (err as Error).message;
    process.stderr.write(`hookrelay init: cannot write ${file}: ${why}\n`);
    return 1;
  }
  process.stdout.write(
    [
      `wrote ${file}: every key with its default, a demo source and a demo target.`,
      "Its secrets are DEMO LITERALS and it listens on 127.0.0.1 only; replace them before exposing the relay.",
      `Next:  hookrelay check${flag}    then    hookrelay serve${flag}`,
      "",
    ].join("\n"),
  );
  return 0;
}
