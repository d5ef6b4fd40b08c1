// Schemes that sign the URL they called (Square, Twilio, `{url}` templates), through the relay's
// own request handling: the URL comes from server.public_url or verify.url, and the query is the
// request's, as Bun hands it over (WHATWG-normalised: a raw apostrophe arrives as %27).
import { afterEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import twilio from "twilio";
import { rawHttp } from "../support/fault-harness.ts";
import { startTestRelay, type TestRelay } from "../support/relay.ts";

const PUBLIC = "https://hooks.example.com";
const CONFIG = `
[server]
public_url = "${PUBLIC}"
[[sources]]
name = "square"
verify = { preset = "square", secret = "sq-key" }
[[sources]]
name = "custom"
verify = { scheme = "hmac", header = "x-sig", algorithm = "sha256", encoding = "hex", signed = "{url}|{body}", secret = "c-key", url = "https://partner.example.com/hook" }
[[sources]]
name = "twilio"
verify = { preset = "twilio", secret = "tw-token" }
`;

let relay: TestRelay;
afterEach(async () => relay?.close());

const post = (path: string, body: string, headers: Record<string, string>) =>
  relay.app.publicApp.handle(new Request(`http://127.0.0.1${path}`, { method: "POST", body, headers }));
const b64 = (key: string, text: string) => createHmac("sha256", key).update(text).digest("base64");

describe("the query is part of the signed URL", () => {
  const body = '{"event_id":"e1","type":"payment.updated"}';

  test("Square, its URL from server.public_url: signed with the query it was called with", async () => {
    relay = await startTestRelay(CONFIG);
    const signedWith = b64("sq-key", `${PUBLIC}/in/square?env=live${body}`);
    const res = await post("/in/square?env=live", body, { "x-square-hmacsha256-signature": signedWith, "content-type": "application/json" });
    expect(res.status).toBe(200);
  });

  test("Square: a signature over the URL without the query does not verify a request that has one", async () => {
    relay = await startTestRelay(CONFIG);
    const withoutQuery = b64("sq-key", `${PUBLIC}/in/square${body}`);
    const res = await post("/in/square?env=live", body, { "x-square-hmacsha256-signature": withoutQuery, "content-type": "application/json" });
    expect(res.status).toBe(401);
  });

  test("Square, its URL from server.public_url: a trailing slash the provider registered is signed as sent", async () => {
    relay = await startTestRelay(CONFIG);
    const signedWith = b64("sq-key", `${PUBLIC}/in/square/${body}`);
    const res = await post("/in/square/", body, { "x-square-hmacsha256-signature": signedWith, "content-type": "application/json" });
    expect(res.status).toBe(200);
  });

  test("a {url} template with a configured verify.url keeps the request's query", async () => {
    relay = await startTestRelay(CONFIG);
    const sig = createHmac("sha256", "c-key").update(`https://partner.example.com/hook?tenant=7|${body}`).digest("hex");
    expect((await post("/in/custom?tenant=7", body, { "x-sig": sig })).status).toBe(200);
    expect((await post("/in/custom?tenant=8", body, { "x-sig": sig })).status).toBe(401);
  });
});

test("Twilio: a query with a raw apostrophe verifies as twilio-node signs it", async () => {
  relay = await startTestRelay(CONFIG);
  const params = { From: "+15550001111", Body: "hi" };
  const url = `${PUBLIC}/in/twilio?name=O'Neil&tags=[1]`;
  const signature = twilio.getExpectedTwilioSignature("tw-token", url, params);
  expect(twilio.validateRequest("tw-token", signature, url, params)).toBe(true);
  // Through a real server: Bun's parser is what turns the raw ' into %27.
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => relay.app.publicApp.handle(req) });
  try {
    const form = "From=%2B15550001111&Body=hi";
    const head = `POST /in/twilio?name=O'Neil&tags=[1] HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Twilio-Signature: ${signature}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n`;
    // By hand: fetch would send the request line normalised.
    expect((await rawHttp(server.port!, [head + form])).status).toBe(200);
  } finally {
    server.stop(true);
  }
});

