import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { packProject, projectRoot } from "./package.js";
import { temporaryDirectory } from "./stores.js";

/**
 * Packages a new user installs beside oncely, taken from this project's node_modules
 * (better-sqlite3 compiles for minutes, and the registry is not needed for them).
 */
const BESIDE = ["express", "better-sqlite3", "ioredis", "pg", "typescript", "@types/node", "@types/express"];

let app: string | undefined;

/**
 * A new ESM app (`"type": "module"`) in a temporary directory with oncely installed by npm
 * from the `npm pack` tarball, as a user's `npm install oncely` would (its dependencies
 * from npm's cache, the registry only if they are missing there), plus {@link BESIDE}.
 * Made once per test worker.
 */
export function scratchApp(): string {
  if (app) return app;
  const { tarball } = packProject();
  const dir = join(temporaryDirectory(), "app");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "scratch-app", private: true, type: "module" }),
  );
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  for (const name of BESIDE) {
    const link = join(dir, "node_modules", name);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(projectRoot, "node_modules", name), link);
  }
  app = dir;
  return dir;
}
