#!/usr/bin/env node
/**
 * The `oncely` command. Each subcommand lives in its own module under `commands/` and
 * registers itself on the program. Usage errors print one line and exit with code 2.
 * @module
 */
import { Command, CommanderError } from "commander";
import { registerDemo } from "./commands/demo.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerOpenApi } from "./commands/openapi.js";
import { registerPush } from "./commands/push.js";
import { registerServe } from "./commands/serve.js";
import { cliVersion } from "./version.js";

const program = new Command("oncely")
  .description("Idempotency keys for any HTTP API: exactly-once execution of retried requests.")
  .version(cliVersion(), "-v, --version")
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    outputError: (message, write) => write(`${message.split("\n")[0]?.trim() ?? message}\n`),
  });

// Subcommands register here, one line each.
registerServe(program);
registerKeys(program);
registerDemo(program);
registerPush(program);
registerMigrate(program);
registerOpenApi(program);

// A reader that stops early (`oncely keys list | head -1`) closes the pipe: there is nobody left
// to answer, so the command ends quietly instead of crashing on EPIPE.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit with 0; a usage error has already printed its one line.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`oncely: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
