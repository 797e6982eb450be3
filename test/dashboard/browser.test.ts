// The dashboard in a real browser (Debian's chromium driven by playwright-core) against a real
// `oncely serve` with traffic flowing: what the page shows is what was sent. Saves the
// screenshots the docs show: into docs/ with ONCELY_UPDATE_SCREENSHOTS=1, else into a
// folder of the temporary directory (overwritten each run), so that a test run leaves the
// working tree as it found it.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayProcess, startGateway, startUpstream, type Upstream } from "../gateway/helpers.js";
import { CHROMIUM, launchChromium, missingBrowser } from "../helpers/browsers.js";
import { newKey, send } from "../helpers/http.js";
import { unavailable } from "../helpers/services.js";

const TOKEN = "browser-test-dashboard-token";
const CREDENTIAL = "Bearer browser-test-customer-secret";
const screenshotFolder =
  process.env.ONCELY_UPDATE_SCREENSHOTS === "1"
    ? fileURLToPath(new URL("../../docs/", import.meta.url))
    : join(tmpdir(), "oncely-dashboard-screenshots");
mkdirSync(screenshotFolder, { recursive: true });
const docs = (name: string) => join(screenshotFolder, name);

const missing = missingBrowser(CHROMIUM, "chromium");
if (missing) unavailable("the dashboard in chromium", missing);
else
  describe("the dashboard in chromium", () => {
    let upstream: Upstream;
    let gateway: GatewayProcess;
    let browser: BrowserContext;
    let page: Page;
    const problems: string[] = [];
    const stuck = new AbortController();

    const post = (key: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
      send(`${gateway.url}/v1/orders`, {
        headers: { "idempotency-key": key, authorization: CREDENTIAL, ...headers },
        body: JSON.stringify({ item: "widget", key }),
        ...(signal ? { signal } : {}),
      });

    /** Waits until the page's text at `selector` satisfies `accept`, and returns it. */
    async function shown(selector: string, accept: (text: string) => boolean): Promise<string> {
      const deadline = Date.now() + 15_000;
      let text = "";
      while (Date.now() < deadline) {
        text = (await page.locator(selector).first().textContent()) ?? "";
        if (accept(text)) return text;
        await page.waitForTimeout(100);
      }
      throw new Error(`${selector} never showed what was expected; last: ${JSON.stringify(text)}`);
    }

    beforeAll(async () => {
      upstream = await startUpstream();
      gateway = await startGateway(
        ["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn"],
        {
          ONCELY_DASHBOARD_TOKEN: TOKEN,
        },
      );
      browser = await launchChromium();
      page = await browser.newPage();
      // A blocked script or style (the Content-Security-Policy) or a failed call shows here.
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(error.message));
    }, 60_000);

    afterAll(async () => {
      stuck.abort();
      await browser?.close();
      await gateway?.stop("SIGKILL");
      await upstream?.close();
    });

    const executed = Array.from({ length: 8 }, () => newKey());

    it("counts the executions and replays sent, with no warning at a low replay rate", async () => {
      for (const key of executed) expect((await post(key)).status).toBe(201);
      expect((await post(executed[0] as string)).headers.get("x-idempotency-replayed")).toBe("true");
      await page.goto(`${gateway.url}/_oncely/#token=${TOKEN}`);
      await shown('[data-testid="total-executed"]', (text) => text.startsWith("8 total"));
      await shown('[data-testid="total-replayed"]', (text) => text.startsWith("1 total"));
      await shown("#rate-value", (text) => text === "11.1%");
      expect(await page.locator("#rate-warning").isVisible()).toBe(false);
      // The token left the address bar (and never reached the server: it was in the fragment).
      expect(page.url()).not.toContain(TOKEN);
      expect(await page.locator("#recent tbody tr").count()).toBe(9);
    });

    it("asks for the token when the address has none, and shows no data before it is given", async () => {
      const other = await browser.newPage();
      try {
        await other.goto(`${gateway.url}/_oncely/`);
        await other.locator("#login").waitFor({ state: "visible" });
        expect(await other.locator('[data-testid="total-executed"]').textContent()).toBe("0");
        expect(await other.locator("#status").textContent()).toContain("token is missing or wrong");
        await other.fill("#token", TOKEN);
        await other.click("#login button");
        await other
          .locator('[data-testid="total-executed"]')
          .filter({ hasText: /^8 total/ })
          .waitFor();
        expect(await other.locator("#login").isVisible()).toBe(false);
      } finally {
        await other.close();
      }
    });

    it("shows a stuck key in flight, with its lease age growing", async () => {
      const key = newKey();
      void post(key, { "x-delay": "60000" }, stuck.signal).catch(() => {});
      const row = `#in-flight tbody tr[data-key="${key}"]`;
      const first = await shown(row, (text) => text.includes(key));
      const age = (text: string) => Number(/(\d+\.\d) s/.exec(text)?.[1]);
      await shown(row, (text) => age(text) >= age(first) + 1);
      expect(await page.locator(`${row} td`).nth(1).textContent()).toMatch(/^cred:[\w-]{43}$/);
      const latest = await shown(`#latest tbody tr[data-key="${key}"]`, (text) => text.includes("in flight"));
      expect(latest).toContain("in flight");
      // Its duplicate is refused while it runs, and the page counts the conflict.
      expect((await post(key)).status).toBe(409);
      await shown('[data-testid="total-conflicts"]', (text) => text.startsWith("1 total"));
    });

    it("looks a key up: its status, its scope as a hash, and the stored body only when asked", async () => {
      const key = executed[1] as string;
      await page.fill("#lookup-key", key);
      await page.click("#lookup button");
      const plain = await shown("#lookup-result", (text) => text.includes('"status": 201'));
      expect(plain).toMatch(/"scope": "cred:[\w-]{43}"/);
      expect(plain).not.toContain("Stored body");
      expect(plain).not.toContain("widget");
      await page.check("#lookup-body");
      await page.click("#lookup button");
      const withBody = await shown("#lookup-result", (text) => text.includes("Stored body"));
      expect(withBody).toContain("widget"); // from the stored body: the record's fields do not name it
      expect(withBody).not.toContain("browser-test-customer-secret");
      expect(await page.locator("#lookup-result button").count()).toBe(0); // read-only: no delete
      await page.screenshot({ path: docs("dashboard.png"), fullPage: true });
    });

    it("warns when replays pass 20% of the guarded requests", async () => {
      for (let i = 0; i < 10; i++) await post(executed[i % executed.length] as string);
      await shown('[data-testid="total-replayed"]', (text) => text.startsWith("11 total"));
      await shown("#rate-value", (text) => text === "57.9%");
      await page.locator("#rate-warning").waitFor({ state: "visible" });
      expect(await page.locator("#rate-warning").textContent()).toContain("above 20%");
      await page.screenshot({ path: docs("dashboard-warning.png") });
      expect(problems).toEqual([]);
    });

    it("with --dashboard-write, deletes a looked-up record so that its key executes again", async () => {
      const writable = await startGateway(
        ["--upstream", upstream.url, "--store", "memory:", "--log-level", "warn", "--dashboard-write"],
        { ONCELY_DASHBOARD_TOKEN: TOKEN },
      );
      const other = await browser.newPage();
      try {
        const key = newKey();
        const order = () =>
          send(`${writable.url}/v1/orders`, { headers: { "idempotency-key": key }, body: "{}" });
        await order();
        await other.goto(`${writable.url}/_oncely/#token=${TOKEN}`);
        await other.locator("#purge").waitFor({ state: "visible" });
        await other.fill("#lookup-key", key);
        await other.click("#lookup button");
        other.on("dialog", (dialog) => void dialog.accept());
        await other.click("#lookup-result button.danger");
        await other.locator("#lookup-result").filter({ hasText: "Deleted." }).waitFor();
        expect((await order()).headers.get("x-idempotency-replayed")).toBeNull();
        await other.click("#purge");
        await other
          .locator("#purge-result")
          .filter({ hasText: /^Purged \d+ expired records\.$/ })
          .waitFor();
      } finally {
        await other.close();
        await writable.stop("SIGKILL");
      }
    });
  });
