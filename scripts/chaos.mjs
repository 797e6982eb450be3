#!/usr/bin/env node
// `npm run chaos`: the chaos suites (test/chaos) run CHAOS_RUNS times each (default 10),
// then the counts of every run are added up and printed, as docs/guarantees.md publishes
// them. Extra arguments go to Vitest. CHAOS_SEED replays one seed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "oncely-chaos-"));
const report = join(dir, "runs.jsonl");
const started = Date.now();
const run = spawnSync(
  process.execPath,
  ["node_modules/vitest/vitest.mjs", "run", "test/chaos", ...process.argv.slice(2)],
  {
    stdio: "inherit",
    env: { ...process.env, CHAOS_RUNS: process.env.CHAOS_RUNS ?? "10", CHAOS_REPORT: report },
  },
);
const runs = existsSync(report)
  ? readFileSync(report, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  : [];
rmSync(dir, { recursive: true, force: true });
const sum = (field) => runs.reduce((total, counts) => total + counts[field], 0);
const fields = [
  "keys",
  "executions",
  "kills",
  "killsAfterAnswer",
  "faults",
  "once",
  "afterCrash",
  "afterStoreFault",
  "unstoredInFault",
  "duplicates",
  "lost",
  "stuck",
  "unanswered",
  "wrong",
  "unexpected",
];
console.log(`\nchaos: ${runs.length} runs in ${Math.round((Date.now() - started) / 1000)} s`);
for (const field of fields) console.log(`  ${field}: ${sum(field)}`);
process.exit(run.status ?? 1);
