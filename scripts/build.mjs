#!/usr/bin/env node
// `npm run build`, also run by `prepare`: after `npm ci` (so that `npx oncely` finds the
// command in a clone: npm links the project's own bin from dist/ on first use) and before
// `npm pack` and `npm publish`. It compiles src/ into a fresh dist/, so that no file of an
// earlier build (a deleted module, an old source map) is ever packed.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
rmSync(`${root}dist`, { recursive: true, force: true });
const tsc = `${root}node_modules/typescript/bin/tsc`;
const build = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit",
});
if (build.status !== 0) process.exit(build.status ?? 1);
// npx links the command into its cache once, and made it executable then: a rebuilt file must be too.
chmodSync(`${root}dist/cli/main.js`, 0o755);
