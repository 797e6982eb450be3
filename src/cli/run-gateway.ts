/**
 * What `oncely serve` and `oncely demo` share: reading the settings, starting the gateway
 * with its store and logger, and shutting it down gracefully on SIGTERM/SIGINT.
 * @module
 */
import type { AddressInfo } from "node:net";
import { type Command, Option } from "commander";
import { InvalidOptionError, InvalidStoreUrlError } from "../core/errors.js";
import { createGateway, type Gateway } from "../gateway/gateway.js";
import { createProcessLogger } from "../gateway/logging.js";
import { GATEWAY_DEFAULTS } from "../gateway/options.js";
import { createStore } from "../stores/create-store.js";
import { redactUrl } from "../stores/redact-url.js";
import { ENGINE_SETTINGS, engineOptions } from "./engine-settings.js";
import { LISTEN_SETTINGS, PROXY_SETTINGS } from "./gateway-settings.js";
import { onParentGone } from "./parent-watch.js";
import {
  addSettings,
  readConfigFile,
  resolveSettings,
  type SettingTable,
  type SettingValues,
  UsageError,
} from "./settings.js";

/** Every setting a gateway command reads, apart from the upstream. */
export const GATEWAY_COMMAND_SETTINGS = { ...LISTEN_SETTINGS, ...PROXY_SETTINGS, ...ENGINE_SETTINGS };

/** The settings of a gateway command, resolved. */
export type GatewaySettings = SettingValues<typeof GATEWAY_COMMAND_SETTINGS>;

/** Adds `--config` and the settings of `tables` to a gateway command. */
export function addGatewayOptions(command: Command, tables: readonly SettingTable[]): Command {
  command.addOption(
    new Option(
      "--config <file>",
      "JSON file of settings, named like the flags in camelCase (env ONCELY_CONFIG)",
    ),
  );
  for (const table of tables) addSettings(command, table);
  return command;
}

/** Reads the settings of `table` with flag > `ONCELY_*` variable > config file precedence. */
export function readGatewaySettings<S extends SettingTable>(
  command: Command,
  table: S,
  tables: readonly SettingTable[],
): SettingValues<S> {
  const configPath = command.opts<{ config?: string }>().config ?? process.env.ONCELY_CONFIG;
  const file = configPath ? readConfigFile(configPath, tables) : {};
  return resolveSettings(command, table, {
    env: process.env,
    file,
    ...(configPath === undefined ? {} : { filePath: configPath }),
  });
}

/** Why the gateway shuts down, as its log line says. */
type ShutdownCause = { readonly signal: NodeJS.Signals } | { readonly reason: string };

/** A gateway running in this process. */
export interface RunningGateway {
  readonly address: AddressInfo;
  /** `http://host:port` as a client on this machine would use it. */
  readonly url: string;
}

/**
 * Starts the gateway in front of `upstream`, logs `listening <port>`, and installs the
 * SIGTERM/SIGINT handler that drains it, runs `onShutdown`, closes the store and exits 0
 * (the same happens when the npm process that started it exits: see `onParentGone`).
 * Settings that the store or the engine reject become a {@link UsageError}.
 */
export async function runGateway(
  settings: GatewaySettings,
  upstream: URL,
  onShutdown: () => Promise<void> = async () => {},
  /** A worker of `--workers` leaves `listening <port>` to its primary. */
  announce = true,
): Promise<RunningGateway> {
  const { port, host, store: storeUrl, upstreamTimeout, shutdownGrace, adminPrefix, logLevel } = settings;
  // The keys go to the store alone, so that no options object handed on carries them.
  const { dashboardToken, dashboardWrite, encryptionKeys, ...rest } = settings;
  const { logger, close: closeLog } = createProcessLogger(logLevel ?? GATEWAY_DEFAULTS.logLevel);
  const storeLocation = storeUrl ?? GATEWAY_DEFAULTS.store;
  const store = await createStore(
    storeLocation,
    encryptionKeys ? { encryption: { keys: encryptionKeys } } : {},
  ).catch((error: unknown) => {
    if (error instanceof InvalidStoreUrlError)
      throw new UsageError(`invalid value for --store: ${error.message}`);
    throw error;
  });
  let gateway: Gateway;
  try {
    gateway = createGateway({
      ...engineOptions(rest),
      store,
      upstream,
      logger,
      ...(upstreamTimeout === undefined ? {} : { upstreamTimeout }),
      ...(adminPrefix === undefined ? {} : { adminPrefix }),
      ...(dashboardToken === undefined ? {} : { dashboardToken }),
      ...(dashboardWrite === undefined ? {} : { dashboardWrite }),
    });
  } catch (error) {
    await store.close();
    if (error instanceof InvalidOptionError) throw new UsageError(error.message);
    throw error;
  }
  let address: AddressInfo;
  try {
    address = await gateway.listen(port ?? GATEWAY_DEFAULTS.port, host ?? GATEWAY_DEFAULTS.host);
  } catch (error) {
    await store.close();
    throw error;
  }
  let stopping = false;
  const stop = async (cause: ShutdownCause) => {
    logger.info(cause, "shutting down: no new connections, waiting for requests in flight");
    const report = await gateway.close(shutdownGrace ?? GATEWAY_DEFAULTS.shutdownGrace);
    if (report.abandoned > 0) {
      logger.warn(
        report,
        "grace period over: released the keys of the requests still in flight and cut them off",
      );
    }
    await onShutdown();
    await store.close();
    logger.info(report, "stopped");
  };
  const shutdown = (cause: ShutdownCause) => {
    // A second signal while draining changes nothing: the grace period bounds the wait anyway.
    if (stopping) return;
    stopping = true;
    stop(cause).then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  const exit = (code: number) => {
    closeLog().then(() => process.exit(code));
  };
  process.on("SIGTERM", (signal) => shutdown({ signal }));
  process.on("SIGINT", (signal) => shutdown({ signal }));
  onParentGone(() => shutdown({ reason: "the npm process that started oncely has exited" }));

  // Only now that SIGTERM is handled: a supervisor may send it as soon as it reads this line.
  // The listening line is printed even at warn or error (not at silent): supervisors, scripts and
  // users of --port 0 rely on it to learn the port.
  const announcer = logger.level === "silent" ? logger : logger.child({}, { level: "info" });
  announcer.info(
    { host: address.address, upstream: redactUrl(upstream.href), store: redactUrl(storeLocation) },
    announce ? `listening ${address.port}` : "worker listening",
  );

  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { address, url: `http://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${address.port}` };
}
