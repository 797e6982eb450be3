#!/usr/bin/env node
// Runs the Vitest suite and ends with the plain line "N passed, N failed, N skipped",
// which CI reads (it does not read Vitest's own summary). Extra arguments go to Vitest.
//
// A file that fails without a failing test (it throws while loading, or registers no test
// at all) counts as one failure, and so does a run that Vitest fails for errors outside
// any test: the closing line never says "0 failed" when the run failed. Above it, the
// console lists the skipped suites with the reason their titles give.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

// ONCELY_TEST_REPORT moves the JSON report, so that a test of this script leaves the project's alone.
const report = process.env.ONCELY_TEST_REPORT ?? ".test-results.json";
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
rmSync(report, { force: true });
const run = spawnSync(
  process.execPath,
  [
    vitest,
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);

const results = readReport();
if (results === undefined) {
  console.log(
    `\n0 passed, 1 failed, 0 skipped (Vitest exited with ${run.status ?? run.signal} and wrote no report)`,
  );
  process.exit(1);
}
const files = results.testResults.map((file) => ({ ...file, name: relative(process.cwd(), file.name) }));
// A failed file without a failed test failed outside of any test: loading it, or finding no test in it.
const brokenFiles = files.filter(
  (file) => file.status === "failed" && !file.assertionResults.some((test) => test.status === "failed"),
);
const skippedSuites = new Map();
for (const file of files) {
  for (const test of file.assertionResults) {
    if (test.status !== "skipped" && test.status !== "pending" && test.status !== "todo") continue;
    const where = `${file.name}: ${test.ancestorTitles.join(" › ") || test.title}`;
    skippedSuites.set(where, (skippedSuites.get(where) ?? 0) + 1);
  }
}
const passed = results.numPassedTests;
let failed = results.numFailedTests + brokenFiles.length;
const skipped = results.numPendingTests + results.numTodoTests;
const outsideTests = run.status !== 0 && failed === 0;
if (outsideTests) failed = 1;

if (skippedSuites.size > 0) {
  console.log("\nSkipped suites:");
  for (const [where, count] of skippedSuites)
    console.log(`  ${where} (${count} ${count === 1 ? "test" : "tests"})`);
}
if (brokenFiles.length > 0) {
  console.log("\nFiles that failed outside any test:");
  for (const file of brokenFiles) console.log(`  ${file.name}: ${file.message.split("\n")[0]}`);
}
if (outsideTests)
  console.log(`\nVitest exited with ${run.status ?? run.signal}: errors outside any test (see above).`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);

function readReport() {
  try {
    return JSON.parse(readFileSync(report, "utf8"));
  } catch {
    return undefined;
  }
}
