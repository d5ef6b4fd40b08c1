#!/usr/bin/env bun
/**
 * CLI entry: parse args, load config, open store, start, drain on signals.
 * Every command lives in src/cli/; this file only dispatches.
 */
import { parseFlags } from "./cli/args.ts";
import { closestName } from "./config/did-you-mean.ts";
import { BUILD, HELP, VERSION } from "./cli/help.ts";
import { reexecWithRuntimeTuning } from "./cli/runtime-tuning.ts";
import { holdReloadsWhileStarting } from "./cli/early-signals.ts";

const [command, ...rest] = process.argv.slice(2);
// Before any command's modules load: a relay may replace itself (execve) here,
// and what was loaded before would only be loaded again.
const wantsHelp = rest.includes("--help") || rest.includes("-h");
if ((command === "serve" || command === "dev") && !wantsHelp) {
  reexecWithRuntimeTuning();
  holdReloadsWhileStarting();
}

async function main(): Promise<number> {
  // `hookrelay help dev` is `hookrelay dev --help`.
  const topic = command === "help" ? rest[0] : command;
  if (topic === undefined || topic === "--help" || topic === "-h" || topic === "help") {
    process.stdout.write(HELP.main!);
    return command === undefined ? 2 : 0; // no command: a usage error, as an unknown one
  }
  if ((topic === "version" && !wantsHelp) || topic === "--version" || topic === "-v") {
    // It takes nothing: anything after it is refused as any command's stray argument is.
    if (command === "version" && parseFlags(rest, {}) === null) return 2;
    process.stdout.write(`hookrelay ${VERSION} (${BUILD})\n`);
    return 0;
  }
  if (wantsHelp || command === "help") {
    const text = HELP[topic];
    if (!text) return unknown(topic);
    process.stdout.write(text);
    return 0;
  }
  switch (topic) {
    case "serve":
      return (await import("./cli/serve.ts")).runServe(rest);
    case "check":
      return (await import("./cli/check.ts")).runCheck(rest);
    case "dev":
      return (await import("./cli/dev.ts")).runDev(rest);
    case "replay":
      return (await import("./cli/replay.ts")).runReplay(rest);
    case "listen":
      return (await import("./cli/listen.ts")).runListen(rest);
    case "backup":
      return (await import("./cli/backup.ts")).runBackup(rest);
    case "export":
      return (await import("./cli/export.ts")).runExport(rest);
    case "import":
      return (await import("./cli/import.ts")).runImport(rest);
    case "init":
      return (await import("./cli/init.ts")).runInit(rest);
    default:
      return unknown(topic);
  }
}

function unknown(cmd: string): number {
  // A flag first (`hookrelay --config x serve`) is a command missing; a misspelt command gets the nearest.
  const hint = cmd.startsWith("-")
    ? "; the command comes first (hookrelay serve --config …)"
    : ((near) => (near === null ? "" : `; did you mean "${near}"?`))(closestName(cmd, Object.keys(HELP).filter((name) => name !== "main")));
  process.stderr.write(`hookrelay: unknown command "${cmd}"${hint}\n\n${HELP.main}`);
  return 2;
}

const code = await main();
if (code !== -1) process.exit(code);
