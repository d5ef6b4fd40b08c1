/**
 * Live updates in a real Chromium against a real relay: a new event appears
 * at the top of an open events list without a reload (and only when its
 * filters match), pause stops that and resume catches up, an event page
 * shows its deliveries' attempts as they are made (and stops offering a
 * retry once one is delivered), the targets page shows a
 * target's new state; all without tripping the Content-Security-Policy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium, signedInPage } from "../support/chromium.ts";

describe.skipIf(!hasChromium)("live updates in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let cspViolations: string[] = [];
  const send = async (source: string, body: object, headers: Record<string, string> = {}) => {
    const res = await live.send(source, JSON.stringify(body), headers);
    return ((await res.json()) as { id: string }).id;
  };
  // Set on the window after load: still there later means the page was not reloaded.
  const markPage = () => page.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));
  const samePage = () => page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad === true);
  const row = (id: string) => page.locator(`table.list tbody tr[data-event-id="${id}"]`);
  let extra = "";

  beforeAll(async () => {
    live = await startLiveRelay({ extraToml: () => extra });
    admin = live.relay.adminUrl;
    await send("shop", { id: "before-1", type: "order.created" });
    browser = await launchChromium();
    ({ page, cspViolations } = await signedInPage(browser, admin, ADMIN_TOKEN));
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  test("a new event appears at the top of the open events list without a reload", async () => {
    await page.goto(`${admin}/`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await markPage();
    const id = await send("shop", { id: "live-ui-1", type: "order.paid" });
    await row(id).waitFor({ timeout: 10_000 });
    expect(await page.locator("table.list tbody tr").first().getAttribute("data-event-id")).toBe(id);
    expect(await row(id).locator("td").nth(4).innerText()).toBe("live-ui-1");
    expect(await samePage()).toBe(true);
    // Its status follows the delivery: the test receiver answers 200.
    await row(id).locator(".badge", { hasText: /^delivered$/ }).waitFor({ timeout: 10_000 });
  });

  test("a filtered list only gains the events its filters match", async () => {
    // One there already, so that the page draws its count and bulk actions.
    await send("billing", { id: "live-ui-3a", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
    await page.goto(`${admin}/?source=billing`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await markPage();
    const before = Number((await page.locator("#matched").innerText()).split(" ")[0]);
    const shop = await send("shop", { id: "live-ui-2", type: "order.paid" });
    const billing = await send("billing", { id: "live-ui-3", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
    await row(billing).waitFor({ timeout: 10_000 });
    expect(await row(shop).count()).toBe(0);
    // The count above the list (and the bulk action's) grows with the events that came in.
    expect(await page.locator("#matched").innerText()).toBe(`${before + 1} matching event${before + 1 === 1 ? "" : "s"}`);
    expect(await page.locator("#redeliver-matching").innerText()).toBe(`Redeliver ${before + 1} matching…`);
    expect(await samePage()).toBe(true);
  });

  test("pause stops new events from appearing, and resume brings them in", async () => {
    await page.goto(`${admin}/`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await page.click("button.live-toggle");
    expect(await page.locator(".live-state").innerText()).toBe("Paused");
    const id = await send("shop", { id: "live-ui-4", type: "order.paid" });
    // Two ticks of the server and more: nothing may arrive while paused.
    await Bun.sleep(2500);
    expect(await row(id).count()).toBe(0);
    await page.click("button.live-toggle");
    await row(id).waitFor({ timeout: 10_000 });
  });

  test("a listed event shows each target's status while they differ, kept current without a reload", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    await fetch(`${admin}/api/targets/audit/disable`, { method: "POST", headers: auth });
    await page.goto(`${admin}/`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await markPage();
    // shop routes to audit (disabled: its delivery waits, paused) and orders (delivered).
    const id = await send("shop", { id: "live-ui-targets", type: "order.paid" });
    const line = row(id).locator("td:last-child .targets");
    await line.filter({ hasText: "audit paused · orders delivered" }).waitFor({ timeout: 10_000 });
    expect(await row(id).locator("td:last-child .badge").first().innerText()).toBe("paused");
    // Enabled: audit delivers too, and with one status for both the line goes.
    await fetch(`${admin}/api/targets/audit/enable`, { method: "POST", headers: auth });
    await row(id).locator("td:last-child .badge", { hasText: /^delivered$/ }).waitFor({ timeout: 10_000 });
    await line.waitFor({ state: "detached", timeout: 10_000 });
    // Drawn by the server the same way.
    await fetch(`${admin}/api/targets/audit/disable`, { method: "POST", headers: auth });
    const held = await send("shop", { id: "live-ui-targets-2", type: "order.paid" });
    await row(held).locator("td:last-child .targets").waitFor({ timeout: 10_000 });
    await page.reload();
    expect(await row(held).locator("td:last-child .targets").innerText()).toBe("audit paused · orders delivered");
    await fetch(`${admin}/api/targets/audit/enable`, { method: "POST", headers: auth });
  });

  test("an open event page shows each delivery's attempt as it is made", async () => {
    // The receiver answers 200 at once: hold the event back by disabling its target until the page is open.
    await fetch(`${admin}/api/targets/orders/disable`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const id = await send("billing", { id: "live-ui-5", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
    await page.goto(`${admin}/events/${id}`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await markPage();
    const card = page.locator("article.delivery").first();
    expect(await card.locator(".badge").innerText()).toBe("paused");
    expect(await card.locator("form.retry").count()).toBe(1);
    await fetch(`${admin}/api/targets/orders/enable`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await card.locator(".badge", { hasText: /^delivered$/ }).waitFor({ timeout: 10_000 });
    await card.locator("table.attempts td", { hasText: /^200$/ }).waitFor({ timeout: 1000 });
    expect(await card.locator('[data-field="attempts"]').innerText()).toBe("1 attempt");
    // Drawn as the page draws it: the request the attempt sent under its row, times with local tooltips.
    expect(await card.locator("tr.attempt-request summary").innerText()).toBe("Request sent");
    expect(await card.locator("table.attempts time").first().getAttribute("title")).toBeTruthy();
    // Nothing left to retry: the page no longer offers it.
    expect(await card.locator("form.retry").count()).toBe(0);
    expect(await page.locator("h1 .badge").first().innerText()).toBe("delivered");
    expect(await samePage()).toBe(true);
  });

  test("a delivery that appears on an open event page, retryable, comes with its Retry now form", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const id = await send("billing", { id: "live-ui-retry", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
    await page.goto(`${admin}/events/${id}`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    const orders = page.locator("article.delivery", { has: page.locator("h3", { hasText: /^orders$/ }) });
    await orders.first().locator(".badge", { hasText: /^delivered$/ }).waitFor({ timeout: 10_000 });
    await markPage();
    // A redelivery to the target while it is disabled: a new delivery, paused, drawn by the live update.
    await fetch(`${admin}/api/targets/orders/disable`, { method: "POST", headers: auth });
    expect((await fetch(`${admin}/api/events/${id}/redeliver`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ target: "orders" }) })).status).toBe(202);
    const fresh = orders.nth(1);
    await fresh.locator(".badge", { hasText: /^paused$/ }).waitFor({ timeout: 10_000 });
    await fresh.locator("form.retry").waitFor({ timeout: 1000 });
    expect(await fresh.locator("form.retry").getAttribute("action")).toMatch(/^\/deliveries\/dlv_[0-9A-Z]+\/retry$/);
    expect(await fresh.locator("form.retry span.muted").innerText()).toBe("attempt 1, same delivery");
    expect(await fresh.locator(".pill.origin").innerText()).toBe("manual redelivery");
    expect(await orders.first().locator("form.retry").count()).toBe(0);
    // The provider sends it again: the duplicate count follows.
    await send("billing", { id: "live-ui-retry", type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" });
    await page.locator("#event-duplicates", { hasText: /^1/ }).waitFor({ timeout: 10_000 });
    expect(await samePage()).toBe(true);
    // The form works as the page's own: the delivery is due now and goes out once the target is enabled.
    await fresh.locator("form.retry button").click();
    await page.locator(".flash").waitFor({ timeout: 10_000 });
    await fetch(`${admin}/api/targets/orders/enable`, { method: "POST", headers: auth });
  });

  test("the targets page shows a target's new state and queue without a reload", async () => {
    await page.goto(`${admin}/targets`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await markPage();
    await fetch(`${admin}/api/targets/audit/disable`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await send("shop", { id: "live-ui-6", type: "order.paid" });
    await page.locator("#target-audit header .badge", { hasText: /^disabled$/ }).waitFor({ timeout: 10_000 });
    await page.locator("#target-audit .queue-depth", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    // What the card draws only when made follows too: the form and why the target is disabled.
    await page.locator('#target-audit form[action$="/enable"] button').waitFor({ timeout: 10_000 });
    expect(await page.locator("#target-audit .notice").innerText()).toContain("Disabled:");
    expect(await samePage()).toBe(true);
    await fetch(`${admin}/api/targets/audit/enable`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await page.locator('#target-audit form[action$="/disable"] button').waitFor({ timeout: 10_000 });
    expect(await page.locator("#target-audit .notice").count()).toBe(0);
    expect(await samePage()).toBe(true);
  });

  test("a provider's markup arriving live stays text", async () => {
    await page.goto(`${admin}/`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    const id = await send("shop", { id: "<img src=x onerror=window.__pwned=1>", type: "<b>bold</b>" });
    await row(id).waitFor({ timeout: 10_000 });
    expect(await row(id).locator("td").nth(3).innerText()).toBe("<b>bold</b>");
    expect(await row(id).locator("img, b").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    // A bidirectional-text control reads as a mark, live as on the page drawn by the server.
    const rtl = await send("shop", { id: "rtl-live", type: "order.\u202Edeliaf\u202C.x" });
    await row(rtl).waitFor({ timeout: 10_000 });
    expect(await row(rtl).locator("td").nth(3).innerText()).toBe("order.⟨U+202E⟩deliaf⟨U+202C⟩.x");
    await page.reload();
    expect(await row(rtl).locator("td").nth(3).innerText()).toBe("order.⟨U+202E⟩deliaf⟨U+202C⟩.x");
  });

  test("a burst past what a message carries: the list says more arrived, and the count and its button name the filter's figure", async () => {
    await page.goto(`${admin}/?source=billing`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    await Promise.all(Array.from({ length: 260 }, (_, i) => send("billing", { id: `burst-${i}`, type: "invoice.sent" }, { "x-webhook-secret": "billing-secret" })));
    await page.locator("tr.gap").waitFor({ timeout: 10_000 });
    // The server counts with each update: the figure is the filter's, whatever the rows shown.
    const dry = await fetch(`${admin}/api/events/redeliver`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ filter: { source: "billing" }, dryRun: true }),
    });
    const { matched } = (await dry.json()) as { matched: number };
    await page.locator("#matched", { hasText: `${matched} matching events` }).waitFor({ timeout: 10_000 });
    expect(await page.locator("#redeliver-matching").innerText()).toBe(`Redeliver ${matched} matching…`);
  }, 30_000);

  test("a tab signed out elsewhere says so and offers to sign in again, back to the same page", async () => {
    const other = await signedInPage(browser, admin, ADMIN_TOKEN);
    try {
      const tab = other.page;
      await tab.goto(`${admin}/targets`);
      await tab.locator(".live-state.on").waitFor({ timeout: 10_000 });
      // Signing out in another tab of the same browser ends the session this tab's stream runs on.
      const out = await tab.request.post(`${admin}/logout`, { headers: { origin: admin, "sec-fetch-site": "same-origin" }, maxRedirects: 0 });
      expect(out.status()).toBe(303);
      await tab.locator(".live-state", { hasText: "Signed out" }).waitFor({ timeout: 10_000 });
      expect(await tab.locator("button.live-toggle").innerText()).toBe("Sign in again");
      await tab.click("button.live-toggle");
      await tab.waitForURL(/\/login\?next=%2Ftargets$/);
      await tab.fill('input[name="token"]', ADMIN_TOKEN);
      await tab.click('button[type="submit"]');
      await tab.waitForURL(`${admin}/targets`);
      await tab.locator(".live-state.on").waitFor({ timeout: 10_000 });
      cspViolations.push(...other.cspViolations);
    } finally {
      await other.page.context().close();
    }
  }, 30_000);

  test("a config reload that adds a target draws the open targets page anew, with its card", async () => {
    await page.goto(`${admin}/targets`);
    await page.locator(".live-state.on").waitFor({ timeout: 10_000 });
    expect(await page.locator("#target-extra").count()).toBe(0);
    extra = '\n[[targets]]\nname = "extra"\nurl = "http://127.0.0.1:9/extra"\n';
    expect(live.relay.reload()).toMatchObject({ ok: true });
    await page.locator("#target-extra").waitFor({ timeout: 10_000 });
  }, 30_000);

  test("live pages never trip their Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
