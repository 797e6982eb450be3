/**
 * Which better-sqlite3 majors run on which Node.js, checked before the native module loads,
 * because a mismatch does not fail with an error: it kills the process.
 *
 * - better-sqlite3 12 and older are built on `node::ObjectWrap`, whose destructor aborts the
 *   process on Node.js 24.19 and later whenever a statement is garbage-collected
 *   (nodejs/node#65446, WiseLibs/better-sqlite3#1515).
 * - better-sqlite3 13 (Node-API) needs Node.js 22; on Node.js 20 it segfaults when it opens
 *   a database.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { IncompatibleDependencyError } from "../../core/errors.js";

/** The installed better-sqlite3 version, or undefined when it cannot be read. */
function installedVersion(): string | undefined {
  try {
    // Resolved through the entry point: version 13 does not export its package.json.
    const entry = createRequire(import.meta.url).resolve("better-sqlite3");
    let dir = dirname(entry);
    while (dir !== dirname(dir)) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          name?: string;
          version?: string;
        };
        if (manifest.name === "better-sqlite3") return manifest.version;
      } catch {
        // No package.json at this level: keep climbing.
      }
      dir = dirname(dir);
    }
  } catch {
    // Not resolvable from here (bundled, or loaded some other way): nothing to check.
  }
  return undefined;
}

/**
 * Throws when the installed better-sqlite3 cannot run on `nodeVersion`.
 * @param nodeVersion `process.versions.node`, or another for tests
 * @param driverVersion the better-sqlite3 version; read from the installed package by default
 * @throws {IncompatibleDependencyError} naming the version to install instead
 */
export function checkDriverVersion(
  nodeVersion: string = process.versions.node,
  driverVersion: string | undefined = installedVersion(),
): void {
  if (driverVersion === undefined) return;
  const [nodeMajor = 0, nodeMinor = 0] = nodeVersion.split(".").map(Number);
  const driverMajor = Number(driverVersion.split(".")[0]);
  const what = `The SQLite store cannot use better-sqlite3 ${driverVersion} on Node.js ${nodeVersion}`;
  if (driverMajor <= 12 && (nodeMajor > 24 || (nodeMajor === 24 && nodeMinor >= 19))) {
    throw new IncompatibleDependencyError(
      "better-sqlite3@13",
      `${what}: better-sqlite3 12 and older abort the process on Node.js 24.19 and later (nodejs/node#65446)`,
    );
  }
  if (driverMajor >= 13 && nodeMajor < 22) {
    throw new IncompatibleDependencyError(
      "better-sqlite3@12",
      `${what}: better-sqlite3 13 and later need Node.js 22 and crash on older versions`,
    );
  }
}
