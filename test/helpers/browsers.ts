import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
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

/** A headless Firefox showing one page. */
export interface FirefoxProcess {
  /** Ends Firefox and its content processes (its own process group). */
  stop(): Promise<void>;
}

/**
 * Opens `url` in headless Firefox ESR with a fresh profile and `prefs`. Every request to
 * anywhere but loopback goes to a dead proxy on 127.0.0.1:9, and updates, telemetry and
 * the like are off, so the browser sends nothing off this machine.
 */
export function launchFirefox(url: string, prefs: Record<string, boolean | number | string>): FirefoxProcess {
  const profile = mkdtempSync(join(tmpdir(), "oncely-firefox-"));
  const all = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.allow_hijacking_localhost": false,
    "network.trr.mode": 5,
    "network.captive-portal-service.enabled": false,
    "network.connectivity-service.enabled": false,
    "app.update.enabled": false,
    "app.normandy.enabled": false,
    "browser.shell.checkDefaultBrowser": false,
    "browser.safebrowsing.malware.enabled": false,
    "browser.safebrowsing.phishing.enabled": false,
    "datareporting.policy.dataSubmissionEnabled": false,
    "toolkit.telemetry.enabled": false,
    "extensions.update.enabled": false,
    ...prefs,
  };
  writeFileSync(
    join(profile, "user.js"),
    Object.entries(all)
      .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});\n`)
      .join(""),
  );
  // Its own process group, so that stopping it ends the content processes it started too.
  const child = spawn(FIREFOX, ["--headless", "--no-remote", "--profile", profile, url], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, MOZ_HEADLESS: "1" },
  });
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
    },
  };
}
