/**
 * `oncely serve`: the gateway in front of any HTTP API.
 * @module
 */
import cluster from "node:cluster";
import type { Command } from "commander";
import { GATEWAY_DEFAULTS } from "../../gateway/options.js";
import { ENGINE_SETTINGS } from "../engine-settings.js";
import { LISTEN_SETTINGS, PROXY_SETTINGS, SERVE_SETTINGS, UPSTREAM_SETTINGS } from "../gateway-settings.js";
import {
  addGatewayOptions,
  GATEWAY_COMMAND_SETTINGS,
  readGatewaySettings,
  runGateway,
} from "../run-gateway.js";
import { reportingUsageErrors, UsageError } from "../settings.js";
import { checkWorkers, superviseWorkers } from "../workers.js";

const TABLES = [UPSTREAM_SETTINGS, SERVE_SETTINGS, LISTEN_SETTINGS, PROXY_SETTINGS, ENGINE_SETTINGS];

/** Registers `serve` on the program. */
export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .summary("run the idempotency gateway in front of an HTTP API")
    .description(
      "Run a reverse proxy that gives any HTTP API idempotency keys: the first request with a key is " +
        "forwarded, every retry gets the stored response back.\n\n" +
        "Every setting is a flag, an ONCELY_* environment variable or a field of the --config JSON file; " +
        "a flag wins over a variable, a variable over the file, the file over the default. " +
        "Durations take ms, s, m, h or d (24h); sizes take KiB, MiB, GiB, KB, MB or GB (1MiB).\n\n" +
        "The gateway answers GET <admin-prefix>/health (is the store reachable?) and " +
        "GET <admin-prefix>/metrics (Prometheus) itself, and with --dashboard-token the operations page " +
        "at <admin-prefix>/.",
    );
  program.addHelpText(
    "after",
    "\nPut any HTTP API behind idempotency keys: oncely serve --upstream http://127.0.0.1:3000\n" +
      "Try it first: oncely demo (what npm start runs). Every command explains its settings with --help.",
  );
  addGatewayOptions(command, TABLES).action(
    reportingUsageErrors(async (_options: unknown, cmd: Command) => {
      const settings = readGatewaySettings(
        cmd,
        { ...UPSTREAM_SETTINGS, ...SERVE_SETTINGS, ...GATEWAY_COMMAND_SETTINGS },
        TABLES,
      );
      if (!settings.upstream) {
        throw new UsageError(
          "missing --upstream <url> (or ONCELY_UPSTREAM): the API to put the gateway in front of",
        );
      }
      const workers = settings.workers ?? GATEWAY_DEFAULTS.workers;
      checkWorkers(workers, settings.store ?? GATEWAY_DEFAULTS.store);
      if (workers > 1 && cluster.isPrimary) await superviseWorkers(workers, settings.logLevel);
      else
        await runGateway(settings, settings.upstream, undefined, workers === 1).catch((error: unknown) => {
          // A worker's channel to its primary would keep it alive after the error is reported.
          cluster.worker?.disconnect();
          throw error;
        });
    }),
  );
}
