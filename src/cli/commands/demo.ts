/**
 * `oncely demo` (what `npm start` runs): the bundled file-conversion API with the gateway
 * in front of it, and a curl example to try.
 * @module
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import { createDemoApi } from "../../demo/api.js";
import { MonthlyQuota } from "../../demo/quota.js";
import { GATEWAY_DEFAULTS } from "../../gateway/options.js";
import { ENGINE_SETTINGS } from "../engine-settings.js";
import { LISTEN_SETTINGS, PROXY_SETTINGS } from "../gateway-settings.js";
import {
  addGatewayOptions,
  GATEWAY_COMMAND_SETTINGS,
  readGatewaySettings,
  runGateway,
} from "../run-gateway.js";
import { reportingUsageErrors, setting } from "../settings.js";
import { parseInteger } from "../values.js";

const DEMO_SETTINGS = {
  quota: setting({
    placeholder: "<n>",
    description: "conversions per API key per month in the demo API",
    defaultText: "100",
    parse: (text) => parseInteger(text, 1),
  }),
};

const TABLES = [DEMO_SETTINGS, LISTEN_SETTINGS, PROXY_SETTINGS, ENGINE_SETTINGS];

/** Registers `demo` on the program. */
export function registerDemo(program: Command): void {
  const command = program
    .command("demo")
    .summary("run a file-conversion API behind the gateway, with a curl example")
    .description(
      "Start the bundled file-conversion API (CSV to JSON, JSON to CSV, Markdown to HTML, with a monthly " +
        "quota per API key) on a free loopback port and the gateway in front of it, then print a curl " +
        "example. Takes every setting of `oncely serve` except --upstream.",
    );
  addGatewayOptions(command, TABLES).action(
    reportingUsageErrors(async (_options: unknown, cmd: Command) => {
      const settings = readGatewaySettings(cmd, { ...DEMO_SETTINGS, ...GATEWAY_COMMAND_SETTINGS }, TABLES);
      // The demo always has its dashboard: a fresh token per run unless one is configured.
      settings.dashboardToken ??= randomBytes(18).toString("base64url");
      const api = createDemoApi(new MonthlyQuota(settings.quota ?? 100));
      api.listen(0, "127.0.0.1");
      await once(api, "listening");
      const upstream = new URL(`http://127.0.0.1:${(api.address() as AddressInfo).port}`);
      const gateway = await runGateway(settings, upstream, async () => {
        api.closeAllConnections();
        await new Promise((resolve) => api.close(resolve));
      });
      const admin = `${gateway.url}${settings.adminPrefix ?? GATEWAY_DEFAULTS.adminPrefix}`;
      // The token travels in the fragment, which browsers never send: it stays out of every log.
      const dashboard = `${admin}/#token=${settings.dashboardToken}`;
      process.stdout.write(
        banner(gateway.url, admin, dashboard, upstream.href, settings.store ?? GATEWAY_DEFAULTS.store),
      );
    }),
  );
}

/** What the demo prints: where things run, and three commands that show a first call, a replay and the quota. */
function banner(url: string, admin: string, dashboard: string, upstream: string, store: string): string {
  // A fresh key per run: with a persistent store, a key from an earlier run would replay at once.
  const key = `demo-${randomBytes(4).toString("hex")}`;
  const convert = [
    `curl -i '${url}/v1/convert?target=csv'`,
    `-H 'Authorization: Bearer demo-key'`,
    `-H 'Idempotency-Key: ${key}'`,
    `-H 'Content-Type: application/json'`,
    `-d '[{"name":"widget","qty":2},{"name":"gadget","qty":5}]'`,
  ].join(" \\\n      ");
  return `
oncely demo — a file-conversion API behind the oncely gateway

  gateway   ${url}   (store ${store})
  demo API  ${upstream}   (CSV → JSON, JSON → CSV, Markdown → HTML; monthly quota per API key)
  dashboard ${dashboard}
  metrics   ${admin}/metrics     health ${admin}/health

1. Convert JSON to CSV. The API does the work and counts it against the quota (X-Quota-Remaining):

    ${convert}

2. Run the same command again. The gateway replays the stored answer: same X-Conversion-Id, same
   body, plus X-Idempotency-Replayed: true. The API was not called, so no quota was used.

3. See the quota left (one conversion used, however often step 2 ran):

    curl '${url}/v1/quota' -H 'Authorization: Bearer demo-key'

Open the dashboard to watch executions, replays and records live.
Also try Markdown: -H 'Content-Type: text/markdown' -d '# Hello *world*' with ?target=html.
One JSON log line per request follows. Ctrl-C stops the demo.

`;
}
