import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as v from "valibot";
import { createSchemas, parseListenAddress } from "./schema.ts";

describe("createSchemas", () => {
  test("the whole-config schema accepts the example file and converts its units", async () => {
    const text = await Bun.file(join(import.meta.dir, "../../hookrelay.example.toml")).text();
    const { config } = createSchemas({ env: {}, baseDir: "." });
    const result = v.safeParse(config, Bun.TOML.parse(text));
    expect(result.success).toBe(true);
    if (result.success) {
      expect(result.output.server.max_body).toBe(1024 * 1024);
      expect(result.output.targets[0]!.retry.schedule[1]).toBe(5000);
    }
  });

  test("strict tables report unknown keys", () => {
    const { source } = createSchemas({ env: {}, baseDir: "." });
    const result = v.safeParse(source, { name: "a", verify: { preset: "stripe", secret: "x" }, verfy: {} });
    expect(result.success).toBe(false);
    expect(result.issues?.[0]?.path?.map((p) => p.key)).toEqual(["verfy"]);
  });
});

describe("parseListenAddress", () => {
  test("reads host:port, :port and [ipv6]:port", () => {
    expect(parseListenAddress("0.0.0.0:8080")).toEqual({ ok: true, value: { host: "0.0.0.0", port: 8080 } });
    expect(parseListenAddress(":8080")).toEqual({ ok: true, value: { host: "0.0.0.0", port: 8080 } });
    expect(parseListenAddress("[::1]:8081")).toEqual({ ok: true, value: { host: "::1", port: 8081 } });
    expect(parseListenAddress("localhost:0")).toEqual({ ok: true, value: { host: "localhost", port: 0 } });
  });

  test("refuses a missing or out-of-range port", () => {
    expect(parseListenAddress("8080").ok).toBe(false);
    expect(parseListenAddress("host:70000").ok).toBe(false);
    expect(parseListenAddress(8080)).toEqual({ ok: false, error: 'expected host:port like "127.0.0.1:8081", got 8080' });
  });
});
