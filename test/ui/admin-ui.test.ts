/**
 * The admin UI in a real Chromium against a real relay over HTTP: sign in,
 * find an event by its dedupe key and by a word of its body, read its raw body, redeliver it, disable
 * and enable a target, erase an event and a rejected request, and check a hostile body stays text.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN, seedEvents } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium } from "../support/chromium.ts";

if (!hasChromium) console.warn("SKIPPING UI tests: /usr/bin/chromium is missing (apt-get install -y chromium)");

const XSS_BODY = JSON.stringify({
  id: "xss-1",
  type: "<b>bold</b>",
  note: "<img src=x onerror=window.__pwned=1>",
  html: "<script>window.__pwned=1</script>",
});

describe.skipIf(!hasChromium)("admin UI in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  let admin: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    live = await startLiveRelay();
    admin = live.relay.adminUrl;
    await seedEvents(live.store, 300, Date.now() - 3_600_000);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on("dialog", (d) => void d.accept());
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  const flash = () => page.locator(".flash").innerText();

  test("an unauthenticated visit leads to the login form, and the token signs in", async () => {
    await page.goto(`${admin}/targets`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await page.fill('input[name="token"]', "wrong-token");
    await page.click('button[type="submit"]');
    expect(await page.locator(".error").innerText()).toContain("Wrong token");
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
    expect(new URL(page.url()).pathname).toBe("/targets");
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "hookrelay_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
  });

  test("the source filter lists the configured sources, then the built-in ones under a label saying what they hold", async () => {
    await page.goto(`${admin}/`);
    const plain = await page.locator('select[name="source"] > option').allInnerTexts();
    expect(plain).toEqual(["any", "shop", "billing"]);
    const builtIn = page.locator('select[name="source"] > optgroup');
    expect(await builtIn.getAttribute("label")).toBe("built in");
    expect(await builtIn.locator("option").allInnerTexts()).toEqual(["hookrelay (the relay's alerts)", "_test (test events)"]);
    expect(await builtIn.locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(["hookrelay", "_test"]);
    // Filtering by one field puts only that field in the address.
    await page.selectOption('select[name="source"]', "billing");
    await page.locator('form.filters button[type="submit"]').click();
    await page.waitForURL(/\?source=billing$/);
    expect(new URL(page.url()).search).toBe("?source=billing");
  });

  test("an event is found by its dedupe key, and its page shows the raw body", async () => {
    const res = await live.send("shop", JSON.stringify({ id: "ord_findme_42", type: "order.created", total: 4200 }));
    const { id } = (await res.json()) as { id: string };
    await page.goto(`${admin}/`);
    await page.fill('input[name="q"]', "ord_findme_42");
    await page.click('.filters button[type="submit"]');
    const rows = page.locator("table.list tbody tr");
    expect(await rows.count()).toBe(1);
    await rows.locator(`a[href="/events/${id}"]`).click();
    expect(new URL(page.url()).pathname).toBe(`/events/${id}`);
    expect(await page.locator("#dedupe-key").innerText()).toBe("ord_findme_42");
    expect(await page.locator("#raw-body").innerText()).toBe(JSON.stringify({ id: "ord_findme_42", type: "order.created", total: 4200 }));
    expect(await page.locator("a[download]").getAttribute("href")).toBe(`/api/events/${id}/body`);
  });

  test("the search box finds an event by a word of its body once the indexer has it, its fields shown as text", async () => {
    const res = await live.send("shop", JSON.stringify({ id: "ord_words_7", type: "<i>order.note</i>", note: "customer asked for marmalade" }));
    const { id } = (await res.json()) as { id: string };
    const previous = page.url();
    const rows = page.locator("table.list tbody tr");
    try {
      // Indexed in the background within 2 s of the ack: search again until it shows.
      const deadline = performance.now() + 3000;
      do {
        await page.goto(`${admin}/`);
        await page.fill('input[name="q"]', "Marmalade");
        await page.click('.filters button[type="submit"]');
      } while ((await rows.count()) === 0 && performance.now() < deadline);
      expect(await rows.count()).toBe(1);
      expect(await rows.locator(`a[href="/events/${id}"]`).count()).toBe(1);
      expect(await rows.locator("td").nth(3).innerText()).toBe("<i>order.note</i>");
      expect(await page.locator('input[name="q"]').inputValue()).toBe("Marmalade");
    } finally {
      await page.goto(previous); // the next test redelivers the event the one before opened
    }
  });

  test("redeliver adds a new delivery for each target, and the event page shows each new attempt delivered", async () => {
    const before = await page.locator("article.delivery").count();
    expect(before).toBe(2);
    await page.click('form[action$="/redeliver"] button');
    expect(await flash()).toContain("2 new deliveries");
    expect(await page.locator("article.delivery").count()).toBe(before + 2);
    await page.selectOption('form[action$="/redeliver"] select', "audit");
    await page.click('form[action$="/redeliver"] button');
    expect(await flash()).toContain("1 new delivery");
    expect(await page.locator("article.delivery").count()).toBe(before + 3);
    // The engine sends them to the test receiver (it answers 200): each new delivery shows its attempt.
    const eventUrl = page.url();
    let delivered = 0;
    for (let i = 0; i < 50 && delivered < before + 3; i++) {
      await Bun.sleep(100);
      await page.goto(eventUrl);
      delivered = await page.locator("article.delivery").filter({ has: page.locator(".badge", { hasText: /^delivered$/ }) }).count();
    }
    expect(delivered).toBe(before + 3);
    const okAttempts = await page.locator("article.delivery td", { hasText: /^200$/ }).count();
    expect(okAttempts).toBeGreaterThanOrEqual(before + 3);
  });

  test("a target is disabled and enabled again from the targets page", async () => {
    await page.goto(`${admin}/targets`);
    const card = page.locator("#target-orders");
    expect(await card.locator(".badge").innerText()).not.toBe("disabled");
    await card.locator('form[action$="/disable"] button').click();
    expect(await flash()).toContain("Target disabled");
    expect(await page.locator("#target-orders .badge").innerText()).toBe("disabled");
    await page.locator('#target-orders form[action$="/enable"] button').click();
    expect(await flash()).toContain("Target enabled");
    expect(await page.locator("#target-orders .badge").innerText()).not.toBe("disabled");
  });

  test("send test event stores an event for the target and links to it", async () => {
    await page.locator('#target-audit form[action$="/test"] button').click();
    await page.locator(".flash a").click();
    expect(await page.locator("h1").innerText()).toContain("evt_");
    expect(await page.locator("article.delivery h3").innerText()).toBe("audit");
  });

  test("a hostile body and event type show as text and run nothing", async () => {
    const res = await live.send("shop", XSS_BODY);
    const { id } = (await res.json()) as { id: string };
    await page.goto(`${admin}/?q=xss-1`);
    expect(await page.locator("table.list tbody tr td").nth(3).innerText()).toBe("<b>bold</b>");
    await page.goto(`${admin}/events/${id}`);
    const raw = await page.locator("#raw-body").innerText();
    expect(raw).toContain("<img src=x onerror=window.__pwned=1>");
    expect(raw).toContain("<script>window.__pwned=1</script>");
    await page.locator("details.body summary", { hasText: "Pretty JSON" }).click();
    expect(await page.locator("#pretty-body").innerText()).toContain('"html": "<script>window.__pwned=1</script>"');
    expect(await page.locator("dl.meta").innerText()).toContain("<b>bold</b>");
    expect(await page.locator("#raw-body img, #raw-body script, dl.meta b").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    // Routing lists the routes from the event's own source; the other source's route is only counted.
    expect(await page.locator("table.routing tbody tr td:nth-child(2)").allInnerTexts()).toEqual(["shop"]);
    expect(await page.locator("table.routing tbody tr td:nth-child(4)").allInnerTexts()).toEqual(["matched"]);
    expect(await page.locator("table.routing").locator("xpath=preceding::p[1]").innerText()).toContain("1 route from other sources not shown");
  });

  test("a body's control characters show as their symbols, said so; a JSON body after a byte-order mark still gets its pretty view", async () => {
    const res = await live.send("shop", '\u0000\u0000{"type":"nul","x":"a\u0000b"}\u001b\u007f');
    const { id } = (await res.json()) as { id: string };
    await page.goto(`${admin}/events/${id}`);
    // A page drops a NUL altogether: the raw view had read {"type":"nul",...} under a size that did not add up.
    expect(await page.locator("#raw-body").innerText()).toBe('␀␀{"type":"nul","x":"a␀b"}␛␡');
    expect(await page.locator("#raw-controls").innerText()).toContain("Invisible characters are shown as symbols");
    const bom = (await (await live.send("shop", '\uFEFF{"type":"bom"}')).json()) as { id: string };
    await page.goto(`${admin}/events/${bom.id}`);
    expect(await page.locator("#raw-body").innerText()).toBe('⟨BOM⟩{"type":"bom"}');
    await page.locator("details.body summary", { hasText: "Pretty JSON" }).click();
    expect(await page.locator("#pretty-body").innerText()).toBe('{\n  "type": "bom"\n}');
  });

  test("erase removes the body and headers and says so", async () => {
    await page.locator('form[action$="/erase"] button').click();
    expect(await flash()).toContain("erased");
    expect(await page.locator(".notice").innerText()).toContain("were erased");
    expect(await page.locator("#raw-body").count()).toBe(0);
    expect(await page.locator(".badge-erased").count()).toBeGreaterThan(0);
  });

  test("a rejected request is erased from its page: its headers and body go, the page says when, the list marks it", async () => {
    const refused = await live.send("billing", JSON.stringify({ email: "carol@example.com" }), { "x-webhook-secret": "wrong", "x-customer": "carol@example.com" });
    expect(refused.status).toBe(401);
    await page.goto(`${admin}/rejections?source=billing`);
    const link = page.locator("details.rejection", { hasText: "carol@example.com" }).first().locator('a[href^="/rejections/rej_"]');
    await page.locator("details.rejection", { hasText: "carol@example.com" }).first().locator("summary").click();
    await link.click();
    expect(await page.content()).toContain("carol@example.com");
    await page.locator('form[action$="/erase"] button').click();
    expect(await flash()).toContain("erased");
    expect(await page.locator(".notice").innerText()).toContain("were erased on");
    expect(await page.locator(".badge-erased").count()).toBe(1);
    expect(await page.locator('form[action$="/erase"]').count()).toBe(0);
    expect(await page.content()).not.toContain("carol");
    await page.goto(`${admin}/rejections?source=billing`);
    expect(await page.content()).not.toContain("carol");
    expect(await page.locator("details.rejection .badge-erased").count()).toBeGreaterThan(0);
  });

  test("on a phone-sized screen the page does not scroll sideways; tables scroll inside their frame", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    for (const path of ["/", "/targets", "/sources", "/rejections"]) {
      await phone.goto(`${admin}${path}`);
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
    }
    // An event's stacked cells say which is which (the table's head is hidden on a phone).
    await phone.goto(`${admin}/`);
    const label = await phone.locator('table.events tbody tr td[data-label="source"]').first().evaluate((td) => getComputedStyle(td, "::before").content);
    expect(label).toBe('"source "');
    // The jobs list is blocks on a phone, as the events list is: its status in view, no sideways scroll in its frame.
    const started = await page.request.post(`${admin}/api/events/redeliver`, { headers: { "x-requested-with": "test", "content-type": "application/json" }, data: { filter: {}, dryRun: false } });
    expect(started.status()).toBe(202);
    await phone.goto(`${admin}/jobs`);
    const [table, frame] = await phone.locator("table.jobs").evaluate((t) => [t.scrollWidth, t.parentElement!.clientWidth]);
    expect(table).toBeLessThanOrEqual(frame!);
    await phone.close();
  });

  test("the keyboard's first stop skips past the navigation to the page's content; decorative marks stay out of names", async () => {
    await page.goto(`${admin}/targets`);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    // The brand reads "hookrelay", not "↪ hookrelay".
    expect(await page.getByRole("link", { name: "hookrelay", exact: true }).count()).toBe(1);
  });

  test("our own pages never trip their Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
