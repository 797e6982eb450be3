import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium (`apt-get install chromium`); never a downloaded browser. */
export const CHROMIUM = process.env.ONCELY_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Debian's Firefox ESR (`apt-get install firefox-esr`). */
export const FIREFOX = process.env.ONCELY_TEST_FIREFOX ?? "/usr/bin/firefox-esr";

/** Why a browser cannot run here, or undefined when it can. */
export function missingBrowser(path: string, install: string): string | undefined {
  return existsSync(path) ? undefined : `${path} is not installed (apt-get install ${install})`;
}

/**
 * Starts headless chromium with a fresh profile, quietly: no first-run, no background
 * networking, no component updates, no sync, so that it sends nothing beyond loopback.
 */
export function launchChromium(): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), "oncely-chromium-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
