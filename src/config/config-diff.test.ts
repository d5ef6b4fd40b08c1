import { expect, test } from "bun:test";
import { diffConfig, keepRunning } from "./config-diff.ts";
import { loadConfig } from "./load.ts";
import type { Config } from "./types.ts";

const WHSEC = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";

function config(extra: { sources?: string; targets?: string; routes?: string; server?: string; top?: string } = {}): Config {
  const r = loadConfig(
    `${extra.top ?? ""}
[server]
listen = "127.0.0.1:8080"
${extra.server ?? ""}
${extra.sources ?? `[[sources]]\nname = "a"\nverify = { scheme = "shared-secret", header = "x-token", secret = "one" }\n`}
${extra.targets ?? `[[targets]]\nname = "t"\nurl = "http://10.0.0.5/hook"\nsigning = { secret = "${WHSEC}" }\n`}
${extra.routes ?? `[[routes]]\nfrom = "a"\nto = "t"\n`}
`,
    { env: {}, baseDir: "." },
  );
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.config;
}

test("names added, removed and changed sources and targets, and routes by their ends", () => {
  const before = config();
  const after = config({
    sources: `[[sources]]\nname = "a"\nverify = { scheme = "shared-secret", header = "x-token", secret = "two" }\n[[sources]]\nname = "b"\nverify = { scheme = "none" }\n`,
    targets: `[[targets]]\nname = "u"\nurl = "http://10.0.0.6/hook"\n`,
    routes: `[[routes]]\nfrom = "a"\nto = "u"\n[[routes]]\nfrom = "b"\nto = "u"\n`,
  });
  const d = diffConfig(before, after);
  expect(d).toEqual({
    sources: { added: ["b"], removed: [], changed: ["a"] },
    targets: { added: ["u"], removed: ["t"], changed: [] },
    routes: { added: ["a → u", "b → u"], removed: ["a → t"], changed: [] },
    settings: [],
    restartNeeded: [],
  });
  // Names only: a rotated secret shows as "changed", never as a value.
  expect(JSON.stringify(d)).not.toContain("two");
});

test("a route that keeps its ends and changes its filter is changed, not removed and added", () => {
  const before = config({ routes: `[[routes]]\nfrom = "a"\nto = "t"\nevent_types = ["order.*"]\n` });
  const after = config({ routes: `[[routes]]\nfrom = "a"\nto = "t"\nevent_types = ["invoice.*"]\n` });
  expect(diffConfig(before, after).routes).toEqual({ added: [], removed: [], changed: ["a → t"] });
});

test("an unchanged config is no change at all", () => {
  expect(diffConfig(config(), config())).toEqual({
    sources: { added: [], removed: [], changed: [] },
    targets: { added: [], removed: [], changed: [] },
    routes: { added: [], removed: [], changed: [] },
    settings: [],
    restartNeeded: [],
  });
});

test("listen addresses and the store URL need a restart; other settings are named by their TOML keys", () => {
  const before = config();
  const after = config({
    server: `admin_listen = "127.0.0.1:9999"\npublic_url = "https://hooks.example.com"\ntrusted_proxies = ["10.0.0.0/8"]\n[store]\nurl = "file:./other.db"\nretention = "1d"\nsearch = false\narchive = "./archive"\n[admin]\ntoken = "a-new-admin-token-0123"`,
  });
  const d = diffConfig(before, after);
  expect(d.restartNeeded).toEqual(["server.admin_listen", "store.url", "store.search", "store.archive"]);
  expect(d.settings).toEqual(["server.public_url", "server.trusted_proxies", "store.retention", "admin.token"]);
  expect(JSON.stringify(d)).not.toContain("a-new-admin-token");
  // What is applied keeps the running values of the keys that need a restart.
  const applied = keepRunning(before, after);
  expect(applied.server.adminListen).toEqual(before.server.adminListen);
  expect(applied.store.url).toBe(before.store.url);
  expect(applied.store.search).toBe(before.store.search);
  expect(applied.store.archiveDir).toBe(before.store.archiveDir);
  expect(applied.server.publicUrl).toBe("https://hooks.example.com");
  expect(applied.store.retentionMs).toBe(86_400_000);
});

test("keepRunning keeps every key that needs a restart", () => {
  const before = config();
  const after = config({
    top: `log_level = "debug"`,
    server: `admin_listen = "127.0.0.1:2"\nmax_body = "2mb"\nmax_inflight = "128mb"\n[store]\nurl = "file:./x.db"\nbusy_timeout = "1s"`,
  });
  expect(diffConfig(before, after).restartNeeded).toEqual(["server.admin_listen", "server.max_body", "server.max_inflight", "store.url", "store.busy_timeout"]);
  expect(diffConfig(before, keepRunning(before, after)).restartNeeded).toEqual([]);
  // The log level is applied by a reload: a setting, kept as the new file says.
  expect(diffConfig(before, after).settings).toContain("log_level");
  expect(keepRunning(before, after).logLevel).toBe("debug");
});

test("a new PostgreSQL password needs a restart (the pool was opened with the old one) and is named, never shown", () => {
  const before = config({ server: `[store]\nurl = "postgres://h@db/h"\npassword = "old-db-password"` });
  const after = config({ server: `[store]\nurl = "postgres://h@db/h"\npassword = "new-db-password"` });
  const d = diffConfig(before, after);
  expect(d.restartNeeded).toEqual(["store.password"]);
  expect(JSON.stringify(d)).not.toContain("db-password");
  expect(keepRunning(before, after).store.password).toBe("old-db-password");
});
