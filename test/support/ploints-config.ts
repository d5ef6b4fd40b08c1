/** A relay config for binary tests: one `ploints` source routed to one push target `app`, listeners on port 0. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `<dir>/<name>.toml` with the store at `./<db>` (or at `storeUrl`) and returns its path; `extraTarget` adds lines to the target, `extraStore` to [store]. */
export function writePlointsConfig(opts: { dir: string; name: string; db: string; secret: string; targetPort: number; extraTarget?: string; storeUrl?: string; extraStore?: string }): string {
  const path = join(opts.dir, `${opts.name}.toml`);
  writeFileSync(path, `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[store]
url = "${opts.storeUrl ?? `file:./${opts.db}`}"
${opts.extraStore ?? ""}
[[sources]]
name = "ploints"
verify = { preset = "ploints", secret = "${opts.secret}" }
[[targets]]
name = "app"
url = "http://127.0.0.1:${opts.targetPort}/hooks"
signing = { secret = "whsec_${Buffer.from("binary-test-signing-key-32-bytes").toString("base64")}" }
${opts.extraTarget ?? ""}
[[routes]]
from = "ploints"
to = ["app"]
`);
  return path;
}
