import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { temporaryDirectory } from "./stores.js";

/** The project's root directory. */
export const projectRoot = resolve(import.meta.dirname, "../..");

/**
 * A fresh copy of the checkout's files (tracked and new, never dist/ or anything ignored),
 * as a clone would have them, with a node_modules of its own whose packages link to the
 * project's and which has no `.bin` yet: what `npm ci` leaves before its `prepare` step.
 */
export function copyCheckout(): string {
  const copy = join(temporaryDirectory(), "oncely");
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: projectRoot,
    encoding: "utf8",
  });
  for (const file of listed.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(projectRoot, file), join(copy, file));
  }
  mkdirSync(join(copy, "node_modules"));
  for (const entry of readdirSync(join(projectRoot, "node_modules"))) {
    if (entry.startsWith(".")) continue;
    symlinkSync(join(projectRoot, "node_modules", entry), join(copy, "node_modules", entry));
  }
  return copy;
}

/** What `npm pack` made of the project. */
export interface PackedProject {
  /** Path of the `.tgz` file. */
  readonly tarball: string;
  /** Paths inside the package, relative to its root. */
  readonly files: readonly string[];
}

let packed: PackedProject | undefined;

/**
 * Packs the project as `npm publish` would, from a {@link copyCheckout} without dist/, so the
 * package holds only what its `prepare` script built. Done once per test worker.
 */
export function packProject(): PackedProject {
  if (packed) return packed;
  const destination = temporaryDirectory();
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: copyCheckout(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  // npm prints the build's output before the JSON.
  const [result] = JSON.parse(output.slice(output.indexOf("[\n"))) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = { tarball: join(destination, result.filename), files: result.files.map((file) => file.path) };
  return packed;
}
