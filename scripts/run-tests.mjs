#!/usr/bin/env node
// Runs the Vitest suite and ends with the plain line "N passed, N failed, N skipped",
// which CI reads (it does not read Vitest's own summary). Extra arguments go to Vitest.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const report = ".test-results.json";
rmSync(report, { force: true });
const run = spawnSync(
  process.execPath,
  [
    "node_modules/vitest/vitest.mjs",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);

let summary;
try {
  const results = JSON.parse(readFileSync(report, "utf8"));
  summary = {
    passed: results.numPassedTests,
    failed: results.numFailedTests,
    skipped: results.numPendingTests + results.numTodoTests,
  };
} catch {
  summary = undefined;
}
if (summary) {
  console.log(`\n${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
} else {
  console.log("\n0 passed, 1 failed (the test run produced no report)");
}
const failed = run.status !== 0 || !summary || summary.failed > 0 || summary.passed === 0;
process.exit(failed ? 1 : 0);
