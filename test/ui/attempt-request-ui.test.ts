/**
 * The event page in a real Chromium: each attempt shows the request sent,
 * "Copy as curl" copies the stored request (script from /assets/, no CSP
 * violation), a manual redelivery is labelled; and the small layout fixes:
 * the filter bar on one line at 1280 px, the events list's status in view on
 * a 390 px phone, a marker on rejection rows, a past last error greyed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN, seedEvents } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium } from "../support/chromium.ts";

describe.skipIf(!hasChromium)("event page and layout in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let eventId: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    live = await startLiveRelay({ publicUrl: "https://hooks.example.com" });
    admin = live.relay.adminUrl;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: admin });
    page = await context.newPage();
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${admin}/login`);
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
    const res = await live.send("shop", JSON.stringify({ id: "ord_curl_1", type: "order.paid" }), { "x-note": "it's $(whoami)" });
    eventId = ((await res.json()) as { id: string }).id;
    // Starting Chromium on a busy machine can take longer than the 5 s default.
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  /** Reloads the event page until every delivery shows an attempt. */
  async function eventPageWithAttempts(deliveries: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      await page.goto(`${admin}/events/${eventId}`);
      if ((await page.locator("tr.attempt-request").count()) >= deliveries) return;
      if (Date.now() > deadline) throw new Error("attempts not shown in time");
      await Bun.sleep(100);
    }
  }

  test("each attempt shows the request sent, webhook headers included", async () => {
    await eventPageWithAttempts(2);
    const first = page.locator("tr.attempt-request").first();
    await first.locator("summary").click();
    const text = await first.innerText();
    expect(text).toContain(`POST http://127.0.0.1:`);
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature", "hookrelay-attempt"]) expect(text).toContain(name);
    expect(text).toContain(eventId);
  });

  test("copy as curl copies the stored request to the relay's public URL, with the script from /assets and no CSP violation", async () => {
    const button = page.locator('button[data-copy="curl-command"]');
    expect(await button.isVisible()).toBe(true);
    expect(await button.innerText()).toBe("Copy as curl");
    await button.click();
    await page.locator(".copy-status", { hasText: "Copied." }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe((await page.locator("#curl-command").textContent())!);
    expect(copied).toContain("'https://hooks.example.com/in/shop'");
    expect(copied).toContain(`--header 'x-note: it'\\''s $(whoami)'`);
    expect(copied).toContain(`--data-raw '{"id":"ord_curl_1","type":"order.paid"}'`);
    expect(cspViolations).toEqual([]);
  });

  test("a manual redelivery is labelled on the event page", async () => {
    expect(await page.locator(".pill.origin").count()).toBe(0);
    await page.selectOption('form[action$="/redeliver"] select', "orders");
    // It asks first: a target that already has the event gets it again.
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.click('form[action$="/redeliver"] button');
    await page.locator(".flash", { hasText: "Redelivery scheduled" }).waitFor({ timeout: 10_000 });
    expect(asked).toContain("gets it a second time");
    // The notice leaves the address once shown: a reload does not say it again.
    expect(page.url()).not.toContain("done=");
    await page.reload();
    expect(await page.locator(".flash").count()).toBe(0);
    const cards = page.locator("article.delivery");
    expect(await cards.count()).toBe(3);
    expect(await cards.nth(2).locator(".pill.origin").innerText()).toBe("manual redelivery");
  });

  test("the events filter bar is one line at 1280 px", async () => {
    await page.goto(`${admin}/`);
    const tops = await page.locator("form.filters > *").evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().bottom)));
    expect(tops.length).toBeGreaterThan(5);
    expect(new Set(tops).size).toBe(1);
  });

  test("a very long header value shows its start, the whole of it one click away", async () => {
    const long = `v-${"x".repeat(4998)}`;
    const res = await live.send("shop", JSON.stringify({ id: "ord_long_header", type: "order.paid" }), { "x-long": long });
    const { id } = (await res.json()) as { id: string };
    await page.goto(`${admin}/events/${id}`);
    const cell = page.locator("table.headers tr", { has: page.locator("th", { hasText: /^x-long$/ }) }).locator("td");
    expect(await cell.locator("summary").innerText()).toContain("(5000 characters: show all)");
    expect((await cell.innerText()).length).toBeLessThan(400);
    await cell.locator("summary").click();
    expect(await cell.innerText()).toContain(long);
  });

  test("at 1280 px the events list with long event types and hash dedupe keys needs no sideways scroll", async () => {
    // No id in the body: the key is the body's sha256, 71 characters.
    for (const type of ["customer.subscription.trial_will_end", "payment_intent.amount_capturable_updated"])
      await live.send("shop", JSON.stringify({ type, n: Math.random() }));
    await page.goto(`${admin}/`);
    const [scroll, client] = await page.locator(".table-wrap").first().evaluate((w) => [w.scrollWidth, w.clientWidth]);
    expect(scroll).toBeLessThanOrEqual(client);
  });

  test("on a 390 px phone every event's status is in view and the page does not scroll sideways", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${admin}/`);
    const rights = await phone.locator("table.list td.col-status").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right));
    expect(rights.length).toBeGreaterThan(0);
    expect(rights.filter((r) => r > 390)).toEqual([]);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBe(0);
    // Each event's link is tall enough to tap.
    const heights = await phone.locator("table.list td a").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(32);
    await phone.close();
  });

  test("on a 390 px phone each target's status never covers the event id, and a 200-character event type scrolls nothing sideways", async () => {
    await seedEvents(live.store, 12, Date.now() - 600_000);
    const res = await live.send("shop", JSON.stringify({ id: "ord_long_type", type: `type.${"x".repeat(195)}` }));
    const longTyped = ((await res.json()) as { id: string }).id;
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${admin}/`);
    const rows = await phone.locator("tr[data-event-id]:has(td.col-status .targets)").evaluateAll((trs) =>
      trs.map((tr) => {
        const id = tr.querySelector("td:nth-child(2) a")!.getBoundingClientRect();
        const status = tr.querySelector("td.col-status")!.getBoundingClientRect();
        return id.right <= status.left || id.bottom <= status.top || id.top >= status.bottom;
      }),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((apart) => !apart)).toEqual([]);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBe(0);
    for (const width of [390, 1280]) {
      await phone.setViewportSize({ width, height: 844 });
      await phone.goto(`${admin}/events/${longTyped}`);
      expect({ width, sideways: await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) }).toEqual({ width, sideways: 0 });
    }
    await phone.close();
  });

  test("on a 390 px phone an event's attempts stack as blocks: every cell in view, nothing to scroll sideways", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${admin}/events/${eventId}`);
    const tables = phone.locator("table.attempts");
    expect(await tables.count()).toBeGreaterThan(0);
    const hidden = await tables.evaluateAll((ts) =>
      ts.flatMap((t) => {
        const frame = t.closest(".table-wrap")!;
        const wide = frame.scrollWidth > frame.clientWidth ? ["the frame scrolls"] : [];
        const cells = [...t.querySelectorAll("tbody td")].filter((td) => (td as HTMLElement).offsetParent !== null);
        return wide.concat(cells.filter((td) => td.getBoundingClientRect().right > window.innerWidth).map((td) => td.className || td.textContent!));
      }),
    );
    expect(hidden).toEqual([]);
    // The request an attempt sent: each header's name above its value, none drawn over another.
    for (const s of await phone.locator("tr.attempt-request summary").all()) await s.click();
    const overlaps = await phone.locator("tr.attempt-request table.headers tr").evaluateAll((rows) =>
      rows.filter((tr) => {
        const name = tr.querySelector("th")!.getBoundingClientRect();
        const value = tr.querySelector("td")!.getBoundingClientRect();
        return name.bottom > value.top + 1 || value.right > window.innerWidth;
      }).length,
    );
    expect(await phone.locator("tr.attempt-request table.headers tr").count()).toBeGreaterThan(0);
    expect(overlaps).toBe(0);
    await phone.close();
  });

  test("on a 390 px phone an event's routing verdicts stack: the reason in view, nothing to scroll sideways", async () => {
    const res = await live.send("shop", JSON.stringify({ id: "ord_routing_phone", type: "order.paid" }));
    const { id } = (await res.json()) as { id: string };
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${admin}/events/${id}`);
    const whys = await phone.locator("table.routing td.why").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right));
    expect(whys.length).toBeGreaterThan(0);
    expect(whys.filter((r) => r > 390)).toEqual([]);
    await phone.close();
  });

  test("rejection rows carry a disclosure marker that turns when opened", async () => {
    await live.send("billing", JSON.stringify({ id: "inv_1", type: "invoice.paid" }), { "x-webhook-secret": "wrong" });
    // A rejection is written with the next commit, not before its answer: the page may come first.
    const summary = page.locator("details.rejection > summary").first();
    for (let i = 0; i < 50; i++) {
      await page.goto(`${admin}/rejections`);
      if ((await summary.count()) > 0) break;
      await Bun.sleep(50);
    }
    // With an empty alternative text: a mark, not part of the summary's name.
    const marker = () => summary.evaluate((el) => getComputedStyle(el, "::before").content);
    expect(await marker()).toBe('"▸" / ""');
    await summary.click();
    expect(await marker()).toBe('"▾" / ""');
  });

  test("at 1280 px a failing target's and a source's figures stay inside their cards (times go onto two lines)", async () => {
    const at = Date.now() - 60_000;
    await live.store.writer.write([
      {
        sql: `INSERT INTO target_state (name, last_error, last_error_at, consecutive_failures, failing_since, updated_at) VALUES ('audit', 'HTTP 503', ?, 3, ?, ?)
          ON CONFLICT (name) DO UPDATE SET last_error = 'HTTP 503', last_error_at = excluded.last_error_at, consecutive_failures = 3, failing_since = excluded.failing_since`,
        args: [at, at, at],
      },
    ]);
    for (const path of ["/targets", "/sources"]) {
      await page.goto(`${admin}${path}`);
      const outside = await page.locator(".card").evaluateAll((cards) =>
        cards.flatMap((card) => {
          // The card's content box: text in its padding already touches the border.
          const edge = card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight);
          // The text's own extent: a dd keeps its grid column's width while its text runs past it.
          const textRight = (dd: Element) => {
            const range = document.createRange();
            range.selectNodeContents(dd);
            return range.getBoundingClientRect().right;
          };
          return [...card.querySelectorAll("dl.meta dd")].filter((dd) => textRight(dd) > edge + 0.5).map((dd) => dd.textContent);
        }),
      );
      expect(await page.locator(".card dl.meta time").count()).toBeGreaterThan(0);
      if (path === "/targets") expect(await page.locator("#target-audit").innerText()).toContain("Failing since");
      expect({ path, outside }).toEqual({ path, outside: [] });
    }
  });

  test("a target that is healthy again shows its last error greyed, as past, with its time", async () => {
    // After every attempt the fixture made: the error is the latest thing that happened to the target.
    const newest = await live.store.reads.execute("SELECT max(at) AS at FROM attempts WHERE target = 'audit'");
    const at = Math.max(Date.now() - 60_000, Number(newest.rows[0]?.at ?? 0) + 1);
    await live.store.writer.write([
      {
        sql: `INSERT INTO target_state (name, last_error, last_error_at, consecutive_failures, updated_at) VALUES ('audit', 'HTTP 503', ?, 0, ?)
          ON CONFLICT (name) DO UPDATE SET last_error = 'HTTP 503', last_error_at = excluded.last_error_at, consecutive_failures = 0`,
        args: [at, at],
      },
    ]);
    await page.goto(`${admin}/targets`);
    const card = page.locator("#target-audit");
    expect(await card.locator(".badge").innerText()).toBe("healthy");
    expect(await card.locator(".error-text").count()).toBe(0);
    const past = card.locator(".last-error.past");
    expect(await past.innerText()).toContain("HTTP 503");
    expect(await past.locator("time").getAttribute("datetime")).toBe(new Date(at).toISOString());
    // Healthy with no attempt through since (as after an enable): not said to have recovered …
    expect(await past.innerText()).not.toContain("recovered");
    // … until one goes through.
    await live.store.writer.write([
      {
        sql: `INSERT INTO attempts (id, delivery_id, event_id, target, at, status_code, duration_ms, error, response_excerpt)
          SELECT 'att_after_error', id, event_id, target, ?, 200, 3, NULL, NULL FROM deliveries WHERE target = 'audit' LIMIT 1`,
        args: [at + 30_000],
      },
    ]);
    await page.goto(`${admin}/targets`);
    expect(await page.locator("#target-audit .last-error.past").innerText()).toContain("before it recovered: HTTP 503");
  });
});
