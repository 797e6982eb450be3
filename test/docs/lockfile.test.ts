import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

interface LockEntry {
  optionalDependencies?: Record<string, string>;
}
const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as {
  packages: Record<string, LockEntry>;
};

describe("package-lock.json", () => {
  it("lists every optional dependency of every locked package, so `npm ci` accepts it on any platform", () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        // npm resolves a dependency next to its dependant first, then in every parent folder.
        const candidates = [`${path}/node_modules/${name}`, `node_modules/${name}`];
        if (!candidates.some((candidate) => candidate in lock.packages))
          missing.push(`${name} (needed by ${path})`);
      }
    }
    expect(missing, "run `node scripts/complete-lockfile.mjs` after `npm install`").toEqual([]);
  });
});
