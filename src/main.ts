#!/usr/bin/env bun
/**
 * CLI entry: parse args, load config, open store, start, drain on signals.
 * Every command lives in src/cli/; this file only dispatches.
 */
import { HELP, VERSION } from "./cli/help.ts";
import { runCheck } from "./cli/check.ts";
import { runServe } from "./cli/serve.ts";
import { reexecWithAllocatorTuning } from "./cli/allocator-tuning.ts";

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP.main!);
    return command === undefined ? 1 : 0;
  }
  if (command === "version" || command === "--version" || command === "-v") {
    process.stdout.write(`hookrelay ${VERSION}\n`);
    return 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const text = HELP[command];
    if (!text) return unknown(command);
    process.stdout.write(text);
    return 0;
  }
  switch (command) {
    case "serve":
      reexecWithAllocatorTuning();
      return runServe(rest);
    case "check":
      return runCheck(rest);
    case "dev":
      reexecWithAllocatorTuning();
      return (await import("./cli/dev.ts")).runDev(rest);
    case "replay":
      return (await import("./cli/replay.ts")).runReplay(rest);
    case "listen":
      return (await import("./cli/listen.ts")).runListen(rest);
    default:
      return unknown(command);
  }
}

function unknown(cmd: string): number {
  process.stderr.write(`hookrelay: unknown command "${cmd}"\n\n${HELP.main}`);
  return 2;
}

const code = await main();
if (code !== -1) process.exit(code);
