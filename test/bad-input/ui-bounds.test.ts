/**
 * Stored requests that are small on the wire but costly to show: a body of
 * deeply nested JSON (a pretty view that indents every level is quadratic in
 * the body) and long dedupe keys, event types and header values (repeated on
 * every row of a list). Through the compiled binary: the pages and the API
 * stay linear in what is stored, lists cut long values, detail pages show them
 * whole, and ingest keeps being acked while a page renders.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { RunningBinary } from "../support/binary.ts";
import { relayToml, scratchDir, sendEvent, serveBinary } from "../support/fault-harness.ts";

const tmp = scratchDir("hookrelay-ui-bounds-");
let bin: RunningBinary;
beforeAll(async () => {
  bin = await serveBinary(tmp.dir, relayToml({ maxBody: "512kb" }));
});
afterAll(async () => {
  if (bin?.proc.exitCode === null) await bin.stop();
  tmp.remove();
});

const page = async (path: string) => {
  const res = await fetch(`${bin.adminUrl}${path}`);
  expect([path, res.status]).toEqual([path, 200]);
  return res.text();
};

test("a deeply nested JSON body gets an event page linear in its size that says the pretty view is left out, and ingest is acked meanwhile", async () => {
  const depth = 15_000;
  const body = "[".repeat(depth) + "]".repeat(depth); // 30 KB; indented level by level it was a 450 MB page
  const stored = await sendEvent(bin.publicUrl, body);
  expect(stored.status).toBe(200);
  const id = stored.json.id!;

  // An ingest request sent while the page renders is acked like any other.
  const [html, ack] = await Promise.all([page(`/events/${id}`), sendEvent(bin.publicUrl, JSON.stringify({ id: "meanwhile", type: "t" }))]);
  expect(ack.status).toBe(200);
  expect(ack.json.id).toStartWith("evt_");

  expect(html.length).toBeLessThan(4 * body.length + 16_384);
  expect(html).toContain('id="pretty-omitted"');
  expect(html).toMatch(/Pretty JSON view left out: nested deeper than \d+ levels/);
  expect(html).not.toContain('id="pretty-body"');
  // The raw view is still the whole body.
  expect(html).toContain(`<pre class="raw" id="raw-body">${body}</pre>`);

  const api = await fetch(`${bin.adminUrl}/api/events/${id}`);
  const apiText = await api.text();
  expect(apiText.length).toBeLessThan(4 * body.length + 16_384);
  expect(JSON.parse(apiText).request.body).toBe(body);
}, 60_000);

test("an ordinary JSON body still gets its pretty view, with numbers exactly as sent", async () => {
  const body = '{"id":"plain-1","type":"order.paid","amount":12345678901234567890,"items":[{"sku":"a"},{"sku":"b"}],"empty":{}}';
  const r = await sendEvent(bin.publicUrl, body);
  expect(r.status).toBe(200);
  const html = await page(`/events/${r.json.id}`);
  const pretty = /<pre class="raw" id="pretty-body">([\s\S]*?)<\/pre>/.exec(html)?.[1];
  expect(pretty).toBe(
    [
      "{",
      '  &quot;id&quot;: &quot;plain-1&quot;,',
      '  &quot;type&quot;: &quot;order.paid&quot;,',
      '  &quot;amount&quot;: 12345678901234567890,',
      '  &quot;items&quot;: [',
      "    {",
      '      &quot;sku&quot;: &quot;a&quot;',
      "    },",
      "    {",
      '      &quot;sku&quot;: &quot;b&quot;',
      "    }",
      "  ],",
      '  &quot;empty&quot;: {}',
      "}",
    ].join("\n"),
  );
  expect(html).not.toContain('id="pretty-omitted"');
});
