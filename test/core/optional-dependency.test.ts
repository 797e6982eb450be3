import { spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { MissingDependencyError } from "../../src/core/errors.js";
import { importOptional } from "../../src/core/optional-dependency.js";

/** Runs test/fixtures/without-package.ts and returns what it printed. */
async function withoutPackage(hidden: string, feature: string): Promise<Record<string, unknown>> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/fixtures/without-package.ts", hidden, feature],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  await once(child, "exit");
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("optional dependencies", () => {
  it.each([
    ["ioredis", "redis", "The Redis store"],
    ["pg", "postgres", "The PostgreSQL store"],
    ["marked", "demo", "The demo's conversions"],
  ])(
    "a missing %s is a MissingDependencyError saying what to install (%s)",
    async (hidden, feature, what) => {
      expect(await withoutPackage(hidden, feature)).toEqual({
        name: "MissingDependencyError",
        code: "ONCELY_MISSING_DEPENDENCY",
        packageName: hidden,
        message: `${what} needs the optional package "${hidden}": run \`npm install ${hidden}\``,
      });
    },
  );

  it("names the package when it is missing", async () => {
    const missing = "oncely-no-such-package";
    const error = await importOptional(
      "oncely-no-such-package",
      "This test",
      () => import(/* @vite-ignore */ missing),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect(error).toMatchObject({ packageName: "oncely-no-such-package" });
  });

  it("names the package when CommonJS' require misses it", async () => {
    const error = await importOptional("oncely-no-such-package", "This test", () => {
      const require = createRequire(import.meta.url);
      return Promise.resolve().then(() => require("oncely-no-such-package"));
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect((error as MissingDependencyError).cause).toHaveProperty("code", "MODULE_NOT_FOUND");
  });

  it("throws as is an import failure that names no missing module", async () => {
    const failure = Object.assign(new Error("broken while loading"), { code: "ERR_SOMETHING_ELSE" });
    for (const thrown of [failure, undefined]) {
      const error = await importOptional("oncely-no-such-package", "This test", () =>
        Promise.reject(thrown),
      ).catch((caught: unknown) => caught);
      expect(error).toBe(thrown);
    }
  });

  it("throws as is what fails inside a package that is installed", async () => {
    // The package resolves; a module it needs does not, as when its own dependency is missing.
    const inside = "./oncely-no-such-module.js";
    const error = await importOptional("vitest", "This test", () => import(/* @vite-ignore */ inside)).catch(
      (caught: unknown) => caught,
    );
    expect(error).not.toBeInstanceOf(MissingDependencyError);
    expect(error).toHaveProperty("code", "ERR_MODULE_NOT_FOUND");
  });
});
