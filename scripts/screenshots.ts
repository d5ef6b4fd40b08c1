/**
 * Renders the admin UI's main pages to docs/screenshots/*.png with the system
 * Chromium, against a real relay seeded with demo data (events with
 * deliveries and attempts, a disabled target, a burst of bad signatures).
 *
 *   bun scripts/screenshots.ts
 */
import { join } from "node:path";
import { ADMIN_TOKEN, seedEvents } from "../test/support/admin-fixture.ts";
import { startLiveRelay } from "../test/support/admin-relay.ts";
import { hasChromium, launchChromium } from "../test/support/chromium.ts";

const OUT = join(import.meta.dir, "../docs/screenshots");

if (!hasChromium) {
  console.error("needs /usr/bin/chromium (apt-get install -y chromium)");
  process.exit(1);
}
const live = await startLiveRelay({ publicUrl: "https://hooks.example.com" });
const admin = live.relay.adminUrl;
// A day of traffic for the overview's charts, in bursts of varying size, then the last 50 minutes in full.
for (let h = 23.5; h >= 1; h -= 0.5) await seedEvents(live.store, 20 + Math.round(15 * Math.sin(h / 2)), Date.now() - h * 3_600_000);
const seeded = await seedEvents(live.store, 400, Date.now() - 50 * 60_000);
for (let i = 0; i < 8; i++)
  await live.send("billing", JSON.stringify({ id: `inv_rotated_${i}`, type: "invoice.paid" }), { "x-webhook-secret": "the-old-secret" });
await live.send("shop", JSON.stringify({ id: "ord_live_1001", type: "order.created", total: 129.5, items: [{ sku: "TEE-M", qty: 2 }] }));

const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
page.on("dialog", (d) => void d.accept());
await page.goto(`${admin}/login`);
await page.fill('input[name="token"]', ADMIN_TOKEN);
await page.click('button[type="submit"]');

const shot = async (name: string, path: string, fullPage = true, prepare?: () => Promise<void>) => {
  await page.goto(`${admin}${path}`);
  await prepare?.();
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
  console.log(`docs/screenshots/${name}.png`);
};
await page.goto(`${admin}/targets`);
await page.locator('#target-audit form[action$="/disable"] button').click();
const failed = seeded.find((e) => e.source === "shop" && e.statuses.audit === "failed")!;
await shot("overview", "/overview");
await shot("events", "/", false);
await shot("events-filtered", "/?source=shop&status=failed", false);
await shot("event", `/events/${failed.id}`);
await shot("targets", "/targets");
await shot("sources", "/sources");
await shot("rejections", "/rejections", true, () => page.locator("details.rejection summary").first().click());
await shot("bulk-confirm", "/bulk/redeliver?source=shop&status=failed");
// A job started through the API, as a script would: its page shows the progress.
const started = await fetch(`${admin}/api/events/redeliver`, {
  method: "POST",
  headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
  body: JSON.stringify({ filter: { source: "shop", status: "failed" }, target: "orders" }),
});
const { job } = (await started.json()) as { job: string };
await shot("job", `/jobs/${job}`);
const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
await phone.context().addCookies(await page.context().cookies());
await phone.goto(`${admin}/events/${failed.id}`);
await phone.screenshot({ path: join(OUT, "event-phone.png") });
console.log("docs/screenshots/event-phone.png");
await browser.close();
await live.stop();
