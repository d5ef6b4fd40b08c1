/**
 * `hookrelay listen <relay-url> --target NAME --forward-to URL --token T`:
 * pull a listen target's deliveries from a relay to local URLs
 * (src/listen/client.ts, docs/LISTEN.md). Exit 0 on SIGINT/SIGTERM, 1 when the
 * relay refuses the token or target (or another client took over), 2 on bad flags.
 */
import { parseDurationMs, resolveSecret } from "../config/index.ts";
import { createLogger, type LogLevel } from "../log/logger.ts";
import { startListenClient } from "../listen/client.ts";
import { parseForwardRoutes } from "../listen/forward-routes.ts";
import { parseFlags } from "./args.ts";
import { MAX_TIMER_MS } from "../core/timer-limit.ts";

const DEFAULT_TOKEN = "env:HOOKRELAY_LISTEN_TOKEN";
// The first reconnect's wait (reconnect-backoff.ts): the cap may not be shorter.
const MIN_BACKOFF_MS = 500;

/** Runs the listen client until a signal or a permanent refusal. */
export async function runListen(args: string[]): Promise<number> {
  const parsed = parseFlags(
    args,
    {
      target: { type: "string", short: "t" },
      "forward-to": { type: "string", short: "f", multiple: true },
      token: { type: "string" },
      timeout: { type: "string" },
      "max-backoff": { type: "string" },
      "log-level": { type: "string" },
    },
    true,
  );
  if (!parsed) return 2;
  const v = parsed.values;
  const fail = (msg: string) => (process.stderr.write(`hookrelay listen: ${msg}\n`), 2);
  const [relayUrl, ...extra] = parsed.positionals;
  if (!relayUrl || extra.length > 0) return fail("expected exactly one relay URL, e.g. https://relay.example.com");
  if (!/^https?:\/\//i.test(relayUrl) || !URL.canParse(relayUrl)) return fail(`${JSON.stringify(relayUrl)} is not an http(s) URL`);
  if (typeof v.target !== "string" || v.target === "") return fail("--target is required");
  const routes = parseForwardRoutes((v["forward-to"] as string[] | undefined) ?? []);
  if (!routes.ok) return fail(routes.error);
  // A literal, env:NAME or file:/path, like a config secret; env keeps it out of `ps` and shell history.
  const token = resolveSecret((v.token as string | undefined) ?? DEFAULT_TOKEN, { env: process.env, baseDir: process.cwd() });
  if (!token.ok) return fail(`--token: ${token.error}`);
  const timeout = parseDurationMs((v.timeout as string | undefined) ?? "10s");
  if (!timeout.ok) return fail(`--timeout: ${timeout.error}`);
  if (timeout.value <= 0) return fail("--timeout: must be longer than 0 (every local post would time out at once)");
  if (timeout.value > MAX_TIMER_MS) return fail("--timeout: at most 24d (a timer waits no longer; a longer one would fire at once)");
  const maxBackoff = parseDurationMs((v["max-backoff"] as string | undefined) ?? "30s");
  if (!maxBackoff.ok) return fail(`--max-backoff: ${maxBackoff.error}`);
  if (maxBackoff.value < MIN_BACKOFF_MS) return fail(`--max-backoff: at least ${MIN_BACKOFF_MS}ms, got ${maxBackoff.value}ms (shorter, a relay that is down would be asked again in a tight loop)`);
  const level = (v["log-level"] as string | undefined) ?? "info";
  if (!["debug", "info", "warn", "error"].includes(level)) return fail("--log-level: expected debug, info, warn or error");

  const log = createLogger(level as LogLevel);
  const client = startListenClient({
    relayUrl,
    target: v.target,
    token: token.value,
    routes: routes.value,
    timeoutMs: timeout.value,
    backoff: { baseMs: MIN_BACKOFF_MS, maxMs: maxBackoff.value },
    log,
  });
  const onSignal = () => client.stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const exit = await client.done;
  if (exit.ok) return 0;
  process.stderr.write(`hookrelay listen: ${exit.message}\n`);
  return 1;
}
