import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { temporaryDirectory } from "./stores.js";

/** The project's root directory. */
export const projectRoot = resolve(import.meta.dirname, "../..");

/** What `npm pack` made of the project. */
export interface PackedProject {
  /** Path of the `.tgz` file. */
  readonly tarball: string;
  /** Paths inside the package, relative to its root. */
  readonly files: readonly string[];
}

let packed: PackedProject | undefined;

/**
 * Packs the project as `npm publish` would, from a copy of its files without `dist/` (so
 * the package holds only what `prepack` built), with the project's node_modules linked in.
 * Done once per test worker.
 */
export function packProject(): PackedProject {
  if (packed) return packed;
  const copy = join(temporaryDirectory(), "oncely");
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: projectRoot,
    encoding: "utf8",
  });
  for (const file of listed.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(projectRoot, file), join(copy, file), { errorOnExist: false });
  }
  symlinkSync(join(projectRoot, "node_modules"), join(copy, "node_modules"));
  const destination = temporaryDirectory();
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: copy,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  // npm prints prepack's output before the JSON.
  const [result] = JSON.parse(output.slice(output.indexOf("[\n"))) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = { tarball: join(destination, result.filename), files: result.files.map((file) => file.path) };
  return packed;
}
