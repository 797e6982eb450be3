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
const sum = (list, field) => list.reduce((total, counts) => total + counts[field], 0);
const scenarios = new Map();
for (const counts of runs) scenarios.set(counts.run, [...(scenarios.get(counts.run) ?? []), counts]);
console.log(`\nchaos: ${runs.length} runs in ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`| run | runs | ${fields.join(" | ")} |`);
for (const [name, list] of [...scenarios, ["total", runs]])
  console.log(`| ${name} | ${list.length} | ${fields.map((field) => sum(list, field)).join(" | ")} |`);
process.exit(run.status ?? 1);
