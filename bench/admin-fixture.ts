/** The config shared by bench/seed-1m.ts and bench/admin-queries.ts: four sources, two targets. */
export const BENCH_DB = process.env.BENCH_DB ?? "/tmp/hookrelay-bench-1m/relay.db";
/** Admin token of the bench config. */
export const BENCH_TOKEN = "bench-admin-token";
/** Sources with their share of the traffic (the last one is rare on purpose: selective filters). */
export const BENCH_SOURCES: [string, number][] = [["shop", 0.5], ["billing", 0.25], ["github", 0.2], ["rare", 0.05]];
/** Event types the seed cycles through. */
export const BENCH_TYPES = ["order.created", "order.paid", "order.refunded", "invoice.sent", "invoice.paid", "push", "pull_request", "issue", "ping", "account.updated"];

/** TOML for the bench relay. */
export function benchToml(): string {
  const whsec = "whsec_PwxOU6reGenbCqoeWrBcNEohgBMsDB33iJZ5aOB9UGY=";
  return `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[admin]
token = "${BENCH_TOKEN}"
${BENCH_SOURCES.map(([name]) => `[[sources]]\nname = "${name}"\nverify = { scheme = "none" }\n`).join("\n")}
[[targets]]
name = "orders"
url = "http://127.0.0.1:9/hooks"
signing = { secret = "${whsec}" }
[[targets]]
name = "audit"
url = "http://127.0.0.1:9/hooks"
signing = { secret = "${whsec}" }
[[routes]]
from = "shop"
to = ["orders", "audit"]
[[routes]]
from = "billing"
to = ["orders"]
[[routes]]
from = "github"
to = ["audit"]
[[routes]]
from = "rare"
to = ["orders"]
`;
}
