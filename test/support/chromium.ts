/**
 * Debian's Chromium driven by playwright-core, for the UI tests and the
 * screenshot script. No browser download: the system binary or nothing.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Where Debian installs Chromium. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** True when the system Chromium is installed (`apt-get install -y chromium`). */
export const hasChromium = existsSync(CHROMIUM_PATH);

/** Launches headless Chromium with flags that keep it off the network and quiet. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/**
 * A new page signed in to the admin UI at `adminUrl`, and the Content-Security-Policy
 * violations it reports (console errors and securitypolicyviolation events), for a test to assert empty.
 */
export async function signedInPage(browser: Browser, adminUrl: string, token: string): Promise<{ page: Page; cspViolations: string[] }> {
  const page = await browser.newPage();
  const cspViolations: string[] = [];
  page.on("console", (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) => console.error(`Refused to load: CSP ${e.violatedDirective}`)),
  );
  await page.goto(`${adminUrl}/login`);
  await page.fill('input[name="token"]', token);
  await page.click('button[type="submit"]');
  return { page, cspViolations };
}
