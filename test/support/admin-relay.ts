/**
 * A real relay for the browser tests and screenshots: config from the admin
 * fixtures, a store in a temp dir (or a fresh database on the test cluster: test-store.ts), both listeners on port 0 via startRelay,
 * and a throwaway target receiver that answers 200 (or as `receiver` says).
 */
import { startRelay, type RunningRelay } from "../../src/cli/start-relay.ts";
import { loadConfig } from "../../src/config/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { adminToml } from "./admin-fixture.ts";
import { tempDir } from "./relay.ts";
import { freshStoreUrl } from "./test-store.ts";

/** A running relay plus its store and a sender for inbound requests. */
export interface LiveRelay {
  relay: RunningRelay;
  store: Store;
  /** POSTs a JSON body to /in/<source> over real HTTP. */
  send(source: string, body: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts the relay; `token` null runs in open loopback mode. */
export async function startLiveRelay(
  opts: {
    token?: string | null;
    publicUrl?: string;
    receiver?: (req: Request) => Response | Promise<Response>;
    /** Config text appended to the fixture's at start and at every reload (`relay.reload()`). */
    extraToml?: () => string;
  } = {},
): Promise<LiveRelay> {
  const tmp = tempDir("hookrelay-ui-");
  const receiver = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: opts.receiver ?? (() => new Response('{"received":true}')) });
  const read = () => loadConfig(adminToml({ token: opts.token, targetUrl: `http://127.0.0.1:${receiver.port}/hooks` }) + (opts.extraToml?.() ?? ""), { env: {}, baseDir: tmp.dir });
  const loaded = read();
  if (!loaded.ok) throw new Error(loaded.problems.join("\n"));
  const config = loaded.config;
  const fresh = await freshStoreUrl(tmp.dir, "relay.db");
  config.store.url = fresh.url;
  if (opts.publicUrl) config.server.publicUrl = opts.publicUrl;
  const store = await openStore({ url: config.store.url, busyTimeoutMs: 2000, nowMs: Date.now, checkpointEveryMs: 0 });
  // A reload reads the same text again: store and listeners as started (keepRunning), the rest anew.
  const relay = await startRelay({ config, store, log: silentLogger, readConfig: () => {
    const again = read();
    if (again.ok) again.config.store.url = config.store.url;
    return again;
  } });
  if (!relay.ok) throw new Error(relay.error);
  return {
    relay,
    store,
    send: (source, body, headers = {}) =>
      fetch(`${relay.publicUrl}/in/${source}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } }),
    async stop() {
      await relay.stop();
      receiver.stop(true);
      await fresh.drop();
      tmp.remove();
    },
  };
}
