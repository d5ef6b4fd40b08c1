import { describe, expect, test } from "bun:test";
import { loadConfig } from "./load.ts";

const SOURCE = `
[[sources]]
name = "gh"
verify = { scheme = "none" }
`;

function load(text: string) {
  return loadConfig(text, { env: {}, baseDir: "." });
}

describe("server.trusted_proxies and sources[].allow_ips", () => {
  test("load as ranges; a single address is a /32 or /128", () => {
    const r = load(`
[server]
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/8", "::1"]
${SOURCE}allow_ips = ["192.30.252.0/22", "2a0a:a440::/29"]
`);
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.config.server.trustedProxies.map((x) => x.text)).toEqual(["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
    expect(r.config.sources[0]!.allowIps?.map((x) => x.text)).toEqual(["192.30.252.0/22", "2a0a:a440::/29"]);
  });

  test("left out: no trusted proxies, every address allowed", () => {
    const r = load(SOURCE);
    if (!r.ok) throw new Error(r.problems.join("\n"));
    expect(r.config.server.trustedProxies).toEqual([]);
    expect(r.config.sources[0]!.allowIps).toBeNull();
  });

  test("an invalid CIDR is refused under its key path and index, every one at once", () => {
    const r = load(`
[server]
trusted_proxies = ["127.0.0.1/32", "10.0.0.0/33"]
${SOURCE}allow_ips = ["192.30.253.1/22", "github.com"]
`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toContainEqual(expect.stringMatching(/^server\.trusted_proxies\[1\]: expected an address range in CIDR notation .*"10\.0\.0\.0\/33".*at most \/32/));
    expect(r.problems).toContainEqual(expect.stringMatching(/^sources\[0\]\.allow_ips\[0\]: .*did you mean "192\.30\.252\.0\/22"/));
    expect(r.problems).toContainEqual(expect.stringMatching(/^sources\[0\]\.allow_ips\[1\]: expected an address range in CIDR notation/));
  });

  test("an empty allow_ips list is refused: it would refuse every request", () => {
    const r = load(`${SOURCE}allow_ips = []\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toEqual([expect.stringMatching(/^sources\[0\]\.allow_ips: expected at least one range/)]);
  });

  test("a string instead of a list is refused with what was expected", () => {
    const r = load(`[server]\ntrusted_proxies = "10.0.0.0/8"\n${SOURCE}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/^server\.trusted_proxies: expected a list of address ranges/);
  });
});
