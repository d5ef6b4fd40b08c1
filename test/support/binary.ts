/**
 * Runs the compiled dist/hookrelay as a child process from an empty temp
 * directory and reads its "listening" log line to learn the ports.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const BINARY = join(import.meta.dir, "../../dist/hookrelay");

/** Builds dist/hookrelay if it is missing (npm test builds it first anyway). */
export async function ensureBinary(): Promise<string> {
  if (!existsSync(BINARY)) {
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "../../scripts/build.ts")], { stdout: "inherit", stderr: "inherit" });
    if ((await p.exited) !== 0) throw new Error("build failed");
  }
  return BINARY;
}

export interface RunningBinary {
  proc: ReturnType<typeof Bun.spawn>;
  publicUrl: string;
  adminUrl: string;
  /** Everything the process wrote to stderr so far. */
  logs(): string;
  /** SIGTERM and wait; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Starts `hookrelay <args>` in `cwd` and resolves once it logs "listening". */
export async function startBinary(args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunningBinary> {
  return startCommand([await ensureBinary(), ...args], cwd, env);
}

/** Starts a command that runs the binary in its own place (`exec` in a shell), as startBinary does. */
export async function startCommand(command: string[], cwd: string, env: Record<string, string> = {}): Promise<RunningBinary> {
  await ensureBinary();
  const proc = Bun.spawn(command, { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  let text = "";
  const decoder = new TextDecoder();
  const listening = new Promise<{ publicUrl: string; adminUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`binary did not start:\n${text}`)), 15_000);
    (async () => {
      let found = false;
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        // Keep collecting the log after "listening", but stop searching it (busy runs log a lot).
        if (found) continue;
        const line = text.split("\n").find((l) => l.includes('"msg":"listening"'));
        if (line) {
          found = true;
          clearTimeout(timer);
          const o = JSON.parse(line) as { public: string; admin: string };
          resolve({ publicUrl: `http://${o.public}`, adminUrl: `http://${o.admin}` });
        }
      }
      clearTimeout(timer);
      reject(new Error(`binary exited before listening:\n${text}`));
    })().catch(reject);
  });
  const urls = await listening;
  return {
    proc,
    ...urls,
    logs: () => text,
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return await proc.exited;
    },
  };
}

/** Runs `hookrelay <args>` in `cwd` to its end: exit code, stdout and stderr. */
export async function runBinary(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([BINARY, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
  const [out, err] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text()]);
  return { code: await p.exited, out, err };
}
