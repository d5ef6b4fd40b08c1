/**
 * Bulk actions and "Retry now" in a real Chromium against a real relay over
 * HTTP: the events list's match count, the confirmation step with that count,
 * the job page's progress to done, cancel pending from a filter, and retry of
 * one delivery from the event page. No CSP violation on any of these pages.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { ADMIN_TOKEN, seedEvents, type SeededEvent } from "../support/admin-fixture.ts";
import { startLiveRelay, type LiveRelay } from "../support/admin-relay.ts";
import { hasChromium, launchChromium } from "../support/chromium.ts";

if (!hasChromium) console.warn("SKIPPING UI tests: /usr/bin/chromium is missing (apt-get install -y chromium)");

describe.skipIf(!hasChromium)("bulk actions in Chromium", () => {
  let live: LiveRelay;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let seeded: SeededEvent[];
  const cspViolations: string[] = [];

  /** What the API says the filter matches (the oracle for the page's count). */
  const matched = async (filter: Record<string, string>) => {
    const res = await fetch(`${admin}/api/events/redeliver`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ filter, dryRun: true }),
    });
    return ((await res.json()) as { matched: number }).matched;
  };

  /** Reloads the job page (it also refreshes itself) until the job is no longer running. */
  const jobFinished = async () => {
    const deadline = Date.now() + 20_000;
    while ((await page.locator("h1 .badge").innerText()) === "running" && Date.now() < deadline) {
      await Bun.sleep(200);
      await page.reload();
    }
    return page.locator("h1 .badge").innerText();
  };

  beforeAll(async () => {
    live = await startLiveRelay();
    admin = live.relay.adminUrl;
    seeded = await seedEvents(live.store, 200, Date.now() - 3_600_000);
    browser = await launchChromium();
    page = await browser.newPage();
    page.on("dialog", (d) => void d.accept());
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${admin}/login`);
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await live?.stop();
  });

  test("retry now on a failed delivery sends the same delivery again and the event page shows its second attempt", async () => {
    const e = seeded.find((x) => x.statuses.orders === "failed")!;
    await page.goto(`${admin}/events/${e.id}`);
    const card = page.locator("article.delivery", { has: page.locator("h3", { hasText: /^orders$/ }) });
    expect(await card.locator(".badge").innerText()).toBe("failed");
    await card.locator('form.retry button[type="submit"]').click();
    expect(await page.locator(".flash").innerText()).toContain("attempt 2 of this delivery is due now");
    const deadline = Date.now() + 10_000;
    while ((await card.locator(".badge").innerText()) !== "delivered" && Date.now() < deadline) {
      await Bun.sleep(100);
      await page.reload();
    }
    expect(await card.locator(".badge").innerText()).toBe("delivered");
    expect(await card.locator("header .muted").first().innerText()).toContain("2 attempts");
    // Still one delivery to orders: the same one, not a new one.
    expect(await page.locator("article.delivery h3", { hasText: /^orders$/ }).count()).toBe(1);
    expect(await card.locator("form.retry").count()).toBe(0);
  });

  test("bulk redeliver from a filter: the list's count, the confirmation with it, and the job's progress to done", async () => {
    const expected = await matched({ status: "failed" });
    expect(expected).toBeGreaterThan(0);
    await page.goto(`${admin}/?status=failed`);
    expect(await page.locator("#matched").innerText()).toBe(`${expected} matching events`);
    await page.locator("a", { hasText: `Redeliver ${expected} matching…` }).click();
    expect(new URL(page.url()).pathname).toBe("/bulk/redeliver");
    expect(await page.locator("h1").innerText()).toBe(`Redeliver ${expected} matching events?`);
    await page.locator(`form.bulk-confirm button[type="submit"]`).click();
    expect(new URL(page.url()).pathname).toMatch(/^\/jobs\/job_[0-9A-Z]{26}$/);
    expect(await jobFinished()).toBe("done");
    expect(await page.locator("#job-done").innerText()).toBe(String(expected));
    expect(await page.locator("#job-total").innerText()).toBe(String(expected));
    expect(Number(await page.locator("#job-affected").innerText())).toBeGreaterThanOrEqual(expected);
    expect(await page.locator(".job-progress progress").getAttribute("value")).toBe(String(expected));
    // Every failed pair now has a newer delivery: the filter matches nothing any more.
    await page.goto(`${admin}/?status=failed`);
    expect(await page.locator("#matched").innerText()).toBe("0 matching events");
  });

  test("cancel pending from a filter: the paused deliveries of a disabled target become cancelled", async () => {
    await page.goto(`${admin}/targets`);
    await page.locator('#target-audit form[action$="/disable"] button').click();
    for (let i = 0; i < 5; i++) expect((await live.send("shop", JSON.stringify({ id: `held-${i}`, type: "order.created" }))).status).toBe(200);
    const expected = await matched({ target: "audit", status: "paused" });
    expect(expected).toBeGreaterThanOrEqual(5);
    await page.goto(`${admin}/?target=audit&status=paused`);
    expect(await page.locator("#matched").innerText()).toBe(`${expected} matching events`);
    await page.locator("a", { hasText: "Cancel pending…" }).click();
    expect(await page.locator("h1").innerText()).toBe(`Cancel pending deliveries of ${expected} matching events?`);
    expect(await page.locator('select[name="bulkTarget"]').inputValue()).toBe("audit");
    // Two more arrive while the operator reads the page: not part of what they confirmed.
    for (let i = 5; i < 7; i++) expect((await live.send("shop", JSON.stringify({ id: `held-${i}`, type: "order.created" }))).status).toBe(200);
    await page.locator(`form.bulk-confirm button[type="submit"]`).click();
    expect(await jobFinished()).toBe("done");
    expect(await page.locator("#job-total").innerText()).toBe(String(expected));
    expect(await page.locator("#job-affected").innerText()).toBe(String(expected));
    const job = new URL(page.url()).pathname.split("/").at(-1)!;
    await page.goto(`${admin}/?target=audit&status=cancelled`);
    expect(await page.locator("#matched").innerText()).toBe(`${expected} matching events`);
    expect(await page.locator("table.list tbody .badge", { hasText: "cancelled" }).count()).toBeGreaterThan(0);
    // An event page says which job cancelled its delivery.
    await page.locator("table.list tbody tr a").first().click();
    expect(await page.locator("main").innerText()).toContain(`cancelled by bulk job ${job}`);
    await page.goto(`${admin}/?target=audit&status=paused`);
    expect(await page.locator("#matched").innerText()).toBe("2 matching events");
  });

  test("a job started from a search links back to that search, and the API shows it", async () => {
    // The relay indexes the seeded events after the ack path, within a moment.
    const deadline = Date.now() + 10_000;
    let count = "";
    do {
      await page.goto(`${admin}/?q=${encodeURIComponent("Customer 17")}`);
      count = await page.locator("#matched").innerText();
    } while (count === "0 matching events" && Date.now() < deadline && (await Bun.sleep(200), true));
    expect(count).toMatch(/^[1-9]\d* matching events?$/);
    await page.locator("a", { hasText: "Cancel pending…" }).click();
    await page.locator(`form.bulk-confirm button[type="submit"]`).click();
    expect(await jobFinished()).toBe("done");
    const job = new URL(page.url()).pathname.split("/").at(-1)!;
    const json = (await (await fetch(`${admin}/api/jobs/${job}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { filter: Record<string, unknown> };
    expect(json.filter).toMatchObject({ q: "Customer 17", source: null, status: null });
    await page.locator("a", { hasText: "the filter it matched" }).click();
    expect(new URL(page.url()).searchParams.get("q")).toBe("Customer 17");
    expect(await page.locator("#matched").innerText()).toBe(count);
  });

  test("a job started through the API with words (text) links to a list that keeps them: its count, live updates, pager and bulk actions", async () => {
    const filter = { text: "Customer 42" };
    // Indexed after the ack path, within a moment (as above).
    const deadline = Date.now() + 10_000;
    while ((await matched(filter)) === 0 && Date.now() < deadline) await Bun.sleep(200);
    const expected = await matched(filter);
    expect(expected).toBeGreaterThan(0);
    const started = await fetch(`${admin}/api/deliveries/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ filter }),
    });
    const { job } = (await started.json()) as { job: string };
    await page.goto(`${admin}/jobs/${job}`);
    await page.locator("a", { hasText: "the filter it matched" }).click();
    expect(new URL(page.url()).searchParams.get("text")).toBe("Customer 42");
    expect(await page.locator("#matched").innerText()).toBe(`${expected} matching event${expected === 1 ? "" : "s"}`);
    // The words are in the form, and in everything the page builds from its filter.
    expect(await page.locator('input[name="text"]').inputValue()).toBe("Customer 42");
    expect(await page.locator("h1").getAttribute("data-live-src")).toContain("text=Customer+42");
    await page.locator("#redeliver-matching").click();
    expect(await page.locator("h1").innerText()).toBe(`Redeliver ${expected} matching event${expected === 1 ? "" : "s"}?`);
    expect(await page.locator('form.bulk-confirm input[name="text"]').getAttribute("value")).toBe("Customer 42");
  });

  test("the jobs page lists every job started, newest first, each linked to its page; so does the API", async () => {
    const api = (await (await fetch(`${admin}/api/jobs`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { jobs: { id: string; status: string }[] };
    expect(api.jobs.length).toBeGreaterThanOrEqual(3);
    expect(api.jobs.map((j) => j.id)).toEqual([...api.jobs.map((j) => j.id)].sort().reverse());
    await page.goto(`${admin}/`);
    await page.locator(".match-count a", { hasText: /^Jobs$/ }).click();
    expect(new URL(page.url()).pathname).toBe("/jobs");
    const links = await page.locator("table.jobs tbody a.mono").allInnerTexts();
    expect(links).toEqual(api.jobs.map((j) => j.id));
    // What each acted on, in words, linked to those events.
    expect(await page.locator("table.jobs tbody td a:not(.mono)").allInnerTexts()).toContain("target audit · status paused");
    await page.locator("table.jobs tbody a.mono").first().click();
    expect(new URL(page.url()).pathname).toBe(`/jobs/${api.jobs[0]!.id}`);
    // And back through its breadcrumb.
    await page.locator(".crumbs a", { hasText: "Jobs" }).click();
    expect(new URL(page.url()).pathname).toBe("/jobs");
  });

  test("a running job's page follows its progress in place: the focus stays on Stop, and the page is drawn again once it ends", async () => {
    // A job another process holds (its lease far ahead): this relay's runner leaves it alone, the test moves it.
    const id = "job_01M00000000000000000000000";
    const jobRow = (sql: string, args: (string | number)[]) => live.store.writer.write([{ sql, args }]);
    await jobRow(
      `INSERT INTO jobs (id, kind, status, params, total, done, affected, lease_id, lease_until, created_at, updated_at)
        VALUES (?, 'cancel', 'running', '{"filter":{}}', 40, 10, 3, 'elsewhere', ?, ?, ?)`,
      [id, Date.now() + 600_000, Date.now(), Date.now()],
    );
    await page.goto(`${admin}/jobs/${id}`);
    await page.evaluate(() => ((window as unknown as { drawn: boolean }).drawn = true));
    await page.locator('form[action$="/stop"] button').focus();
    await jobRow("UPDATE jobs SET done = 25, affected = 9 WHERE id = ?", [id]);
    await page.waitForFunction(() => document.getElementById("job-done")!.textContent === "25", undefined, { timeout: 5000 });
    expect(await page.locator("#job-affected").innerText()).toBe("9");
    expect(await page.locator(".job-progress progress").evaluate((p) => (p as HTMLProgressElement).value)).toBe(25);
    // The same document all along, the focus where the operator put it.
    expect(await page.evaluate(() => (window as unknown as { drawn?: boolean }).drawn)).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Stop");
    await jobRow("UPDATE jobs SET status = 'done', done = 40, finished_at = ? WHERE id = ?", [Date.now(), id]);
    await page.waitForFunction(() => document.querySelector("h1 .badge")?.textContent === "done", undefined, { timeout: 5000 });
    expect(await page.locator('form[action$="/stop"]').count()).toBe(0);
  });

  test("these pages never trip their Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
