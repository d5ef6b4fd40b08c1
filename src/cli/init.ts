/**
 * `hookrelay init`: writes the example config (every key, its default where
 * it has one, a demo source and target) where `serve` looks for its config,
 * so that someone holding only the binary has a file to start from. The
 * example is the one `npm start` runs, built into the binary.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import example from "../../hookrelay.example.toml" with { type: "text" };
import { parseFlags } from "./args.ts";
import { DEFAULT_CONFIG_PATH } from "./load-config.ts";
import { writeWholeFile } from "./output-file.ts";

/** Exit 0 once written; 1 when the file exists (without --force) or cannot be written; 2 on bad flags. */
export function runInit(args: string[]): number {
  const parsed = parseFlags(args, { config: { type: "string", short: "c" }, force: { type: "boolean" } });
  if (!parsed) return 2;
  const path = (parsed.values.config as string | undefined) ?? DEFAULT_CONFIG_PATH;
  const file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) {
    process.stderr.write(`hookrelay init: ${file} is a directory; name the file to write (--config ${path.replace(/\/+$/, "")}/hookrelay.toml)\n`);
    return 1;
  }
  if (existsSync(file) && !parsed.values.force) {
    process.stderr.write(`hookrelay init: ${file} exists; left as it is (--force replaces it)\n`);
    return 1;
  }
  const flag = path === DEFAULT_CONFIG_PATH ? "" : ` --config ${path}`;
  // Owner-only (0600, a file replaced rather than written over, never through a link): the file will
  // hold secrets once the demo literals are replaced. Its header's commands name the file they are
  // read from in the repository; here, the one just written.
  const error = writeWholeFile(file, example.replaceAll(" --config hookrelay.example.toml", flag), parsed.values.force === true);
  if (error !== null) {
    process.stderr.write(`hookrelay init: ${error}\n`);
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
