/**
 * `oncely openapi`: prints the OpenAPI 3.1 fragment that describes `oncely serve` with the
 * same settings, for API consumers.
 * @module
 */
import type { Command } from "commander";
import { idempotencyOpenApi } from "../../openapi/document.js";
import { ENGINE_SETTINGS, engineOptions } from "../engine-settings.js";
import { LISTEN_SETTINGS, PROXY_SETTINGS, UPSTREAM_SETTINGS } from "../gateway-settings.js";
import { addGatewayOptions, readGatewaySettings } from "../run-gateway.js";
import { reportingUsageErrors } from "../settings.js";

/** The config file of `oncely serve` is accepted as is; only the engine's settings change the output. */
const CONFIG_TABLES = [UPSTREAM_SETTINGS, LISTEN_SETTINGS, PROXY_SETTINGS, ENGINE_SETTINGS];

/** Registers `openapi` on the program. */
export function registerOpenApi(program: Command): void {
  const command = program
    .command("openapi")
    .summary("print the OpenAPI 3.1 components that describe the gateway to API consumers")
    .description(
      "Print, as JSON, an OpenAPI 3.1 document whose components describe the Idempotency-Key header, " +
        "the replay headers and every problem response of `oncely serve` with the same settings " +
        "(flags, ONCELY_* variables, --config file): merge them into your API's own document.",
    );
  addGatewayOptions(command, [ENGINE_SETTINGS]).action(
    reportingUsageErrors(async (_options: unknown, cmd: Command) => {
      const settings = readGatewaySettings(cmd, ENGINE_SETTINGS, CONFIG_TABLES);
      const document = idempotencyOpenApi({ ...engineOptions(settings), gateway: true });
      process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    }),
  );
}
