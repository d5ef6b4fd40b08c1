/**
 * A page of many targets (or sources) narrows to the names holding what is
 * typed in its filter; cards the live view draws anew keep to it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium, signedInPage } from "../support/chromium.ts";

const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const extra = Array.from({ length: 10 }, (_, i) => `[[targets]]\nname = "${i % 2 ? "billing" : "crm"}-${i}"\nurl = "http://127.0.0.1:9/t${i}"\nsigning = { secret = "${WHSEC}" }\n`).join("");

describe.skipIf(!hasChromium)("a page of many cards in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    live = await startLiveRelay({ extraToml: () => extra });
    browser = await launchChromium();
    ({ page } = await signedInPage(browser, live.relay.adminUrl, ADMIN_TOKEN));
  });
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  test("the targets page narrows to the names holding what is typed, and says how many", async () => {
    await page.goto(`${live.relay.adminUrl}/targets`);
    const visible = () => page.locator("article.card.target:visible").count();
    const all = await page.locator("article.card.target").count();
    expect(all).toBeGreaterThanOrEqual(12);
    await page.fill("input[data-filter-cards]", "BILL");
    expect(await visible()).toBe(5);
    expect(await page.locator("[data-filter-count]").innerText()).toBe(`5 of ${all}`);
    await page.fill("input[data-filter-cards]", "");
    expect(await visible()).toBe(all);
  });

  test("a page of few cards has no filter", async () => {
    await page.goto(`${live.relay.adminUrl}/sources`);
    expect(await page.locator("input[data-filter-cards]").count()).toBe(0);
  });
});
