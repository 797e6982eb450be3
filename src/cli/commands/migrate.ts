/**
 * `oncely migrate --store URL`: creates the store's schema now instead of on first use,
 * for deployments where the application's database user may not create tables.
 * @module
 */
import type { Command } from "commander";
import { GATEWAY_DEFAULTS } from "../../gateway/options.js";
import type { IdempotencyStore } from "../../store.js";
import { createStore } from "../../stores/create-store.js";
import { redactUrl } from "../../stores/redact-url.js";
import { LISTEN_SETTINGS } from "../gateway-settings.js";
import { addSettings, reportingUsageErrors, resolveSettings } from "../settings.js";

/** A store with a schema to create ahead of use (PostgreSQL). */
interface MigratableStore extends IdempotencyStore {
  migrate(): Promise<void>;
}

function isMigratable(store: IdempotencyStore): store is MigratableStore {
  return typeof (store as Partial<MigratableStore>).migrate === "function";
}

const STORE_SETTING = { store: LISTEN_SETTINGS.store };

/** Registers `migrate` on the program. */
export function registerMigrate(program: Command): void {
  addSettings(program.command("migrate"), STORE_SETTING)
    .summary("create the store's tables now instead of on first use")
    .description(
      "Create the store's schema now (PostgreSQL: the records and chunks tables and their function; " +
        "SQLite: the tables in the file). Safe to run repeatedly and from several processes at once.",
    )
    .action(
      reportingUsageErrors(async (_flags: unknown, command: Command) => {
        const url =
          resolveSettings(command, STORE_SETTING, { env: process.env, file: {} }).store ??
          GATEWAY_DEFAULTS.store;
        // Opening a SQLite store creates its tables; Redis and memory have none to create.
        const store = await createStore(url);
        try {
          if (isMigratable(store)) await store.migrate();
          process.stdout.write(`oncely: schema ready in ${redactUrl(url)}\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
