import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { temporaryDirectory } from "../helpers/stores.js";

const fixtures = "test/fixtures/runner/vitest.config.ts";

/** Runs scripts/run-tests.mjs on the fixture suite with `args`, without any test service configured. */
function runTests(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const withoutServices = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("ONCELY_") && !name.startsWith("VITEST")),
  );
  const run = spawnSync(process.execPath, ["scripts/run-tests.mjs", ...args], {
    encoding: "utf8",
    env: { ...withoutServices, ONCELY_TEST_REPORT: join(temporaryDirectory(), "report.json"), ...env },
    timeout: 120_000,
  });
  const lines = run.stdout.trimEnd().split("\n");
  return { status: run.status, output: run.stdout, closing: lines.at(-1) };
}

describe("scripts/run-tests.mjs", () => {
  it("counts a file that fails to load and a file without tests as failures", () => {
    const run = runTests(["--config", fixtures]);
    expect(run.closing).toBe("1 passed, 3 failed, 1 skipped");
    expect(run.status).toBe(1);
    expect(run.output).toMatch(/broken\.check\.ts: this file cannot load/);
    expect(run.output).toMatch(/empty\.check\.ts: No test suite found/);
  });

  it("never closes with 0 failed when one file without tests fails the run", () => {
    const run = runTests(["--config", fixtures, "passing", "empty"]);
    expect(run.closing).toBe("1 passed, 1 failed, 0 skipped");
    expect(run.status).toBe(1);
  });

  it("lists the skipped suites and why on the console, and passes", () => {
    const run = runTests(["--config", fixtures, "passing", "skipped"]);
    expect(run.output).toContain(
      "Skipped suites:\n  test/fixtures/runner/skipped.check.ts: Redis store: skipped because ONCELY_TEST_REDIS_URL is not set (1 test)",
    );
    expect(run.closing).toBe("1 passed, 0 failed, 1 skipped");
    expect(run.status).toBe(0);
  });

  it("passes the shared-store suite without servers, saying what it skipped", () => {
    const run = runTests(["test/process/shared-stores.test.ts"]);
    expect(run.status).toBe(0);
    for (const store of ["Redis", "Redis Cluster", "PostgreSQL"]) {
      expect(run.output).toMatch(new RegExp(`four processes sharing ${store}: skipped because ONCELY_TEST_`));
    }
  });

  it("fails the shared-store suite without servers when ONCELY_REQUIRE_SERVICES=1, as CI sets it", () => {
    const run = runTests(["test/process/shared-stores.test.ts"], { ONCELY_REQUIRE_SERVICES: "1" });
    expect(run.status).toBe(1);
    expect(run.closing).toBe("0 passed, 3 failed, 0 skipped");
  });
});
