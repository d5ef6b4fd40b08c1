/**
 * Debian's Chromium driven by playwright-core, for the UI tests and the
 * screenshot script. No browser download: the system binary or nothing.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

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
