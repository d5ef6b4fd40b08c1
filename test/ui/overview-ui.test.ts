/**
 * /overview in a real Chromium against a real relay: before any traffic each
 * chart says it has no data; after a small controlled run the legends'
 * figures are exactly what was sent (received, rejected, delivered and failed
 * per target, queue depth), the charts are SVG with time axes, and nothing
 * trips the Content-Security-Policy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium, signedInPage } from "../support/chromium.ts";

describe.skipIf(!hasChromium)("the overview page in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let cspViolations: string[] = [];
  const figure = (chart: string, series: string) => page.locator(`#${chart} li[data-series="${series}"] .total`).innerText();

  beforeAll(async () => {
    // "order.fail" events get a 503 that asks for a retry in 10 minutes: one failed attempt each, no more during the test.
    live = await startLiveRelay({
      receiver: async (req) =>
        (await req.text()).includes("order.fail") ? new Response("busy", { status: 503, headers: { "retry-after": "600" } }) : new Response("ok"),
    });
    admin = live.relay.adminUrl;
    browser = await launchChromium();
    ({ page, cspViolations } = await signedInPage(browser, admin, ADMIN_TOKEN));
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  test("overview is first in the navigation, and before any traffic each chart says it has no data", async () => {
    await page.goto(`${admin}/overview`);
    expect(await page.locator(".top nav a").first().getAttribute("href")).toBe("/overview");
    expect(await page.locator(".top nav a.active").innerText()).toBe("Overview");
    expect(await page.locator("figure.chart").count()).toBe(5);
    expect(await page.locator("figure.chart svg").count()).toBe(0);
    expect(await page.locator("#chart-requests .empty").innerText()).toContain("No requests");
  });

  test("after a small run the figures are what was sent: received, rejected, delivered and failed per target, queue depth", async () => {
    const shop = (id: string, type: string) => live.send("shop", JSON.stringify({ id, type }));
    const billing = (id: string, secret: string) => live.send("billing", JSON.stringify({ id, type: "invoice.sent" }), { "x-webhook-secret": secret });
    for (const id of ["ov-1", "ov-2", "ov-3"]) expect((await shop(id, "order.paid")).status).toBe(200);
    expect((await shop("ov-1", "order.paid")).status).toBe(200); // a duplicate: no new event
    expect((await shop("ov-4", "order.fail")).status).toBe(200);
    expect((await billing("ov-5", "billing-secret")).status).toBe(200);
    expect((await billing("ov-6", "wrong-secret")).status).toBe(401);
    expect((await billing("ov-7", "wrong-secret")).status).toBe(401);
    // shop → orders + audit, billing → orders: orders gets 4 delivered + 1 failed, audit 3 + 1.
    let delivered = "";
    for (let i = 0; i < 50 && delivered !== "4/3/1/1"; i++) {
      await page.goto(`${admin}/overview`);
      if ((await page.locator("#chart-failed svg").count()) > 0 && (await page.locator("#chart-delivered svg").count()) > 0)
        delivered = [await figure("chart-delivered", "orders"), await figure("chart-delivered", "audit"), await figure("chart-failed", "orders"), await figure("chart-failed", "audit")].join("/");
      if (delivered !== "4/3/1/1") await Bun.sleep(100);
    }
    expect(delivered).toBe("4/3/1/1");
    expect(await figure("chart-requests", "received")).toBe("5");
    expect(await figure("chart-requests", "rejected")).toBe("2");
    // The failed deliveries wait for their retry: one in each target's queue.
    expect(await figure("chart-queue", "orders")).toBe("1");
    expect(await figure("chart-queue", "audit")).toBe("1");
    expect(await page.locator("#chart-latency svg path.line").count()).toBe(2);
    // Axes carry times: UTC clock labels under the plot.
    const ticks = await page.locator("#chart-requests svg text.tick").allTextContents();
    expect(ticks.some((t) => /^\d\d:\d\d$/.test(t))).toBe(true);
  });

  test("the API gives the same figures as JSON", async () => {
    const res = await fetch(`${admin}/api/overview`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const o = (await res.json()) as { received: number[]; rejected: number[]; delivered: Record<string, number[]>; stepMs: number };
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect({ received: sum(o.received), rejected: sum(o.rejected), orders: sum(o.delivered.orders!), step: o.stepMs }).toEqual({
      received: 5,
      rejected: 2,
      orders: 4,
      step: 300_000,
    });
  });

  test("on a phone-sized screen the overview does not scroll sideways", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${admin}/overview`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBe(0);
    // The axis labels stay readable (drawn larger, one hour label in two), and inside their card.
    const shown = await phone.evaluate(() =>
      [...document.querySelectorAll("figure.chart")].flatMap((fig) => {
        const card = fig.getBoundingClientRect();
        return [...fig.querySelectorAll("svg text.tick")]
          .map((t) => t.getBoundingClientRect())
          .filter((r) => r.height > 0)
          .map((r) => ({ height: r.height, inside: r.left >= card.left && r.right <= card.right }));
      }),
    );
    expect(shown.length).toBeGreaterThan(0);
    expect(Math.min(...shown.map((t) => t.height))).toBeGreaterThanOrEqual(9);
    expect(shown.filter((t) => !t.inside)).toEqual([]);
    await phone.close();
  });

  test("the overview never trips its Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
