#!/usr/bin/env node
// `npm run mutate`: Stryker over the key and fingerprint code, the engine and the stores'
// fencing (stryker.config.mjs), one run per area, then the mutation score of each area: the
// figures docs/guarantees.md publishes. `npm run mutate -- keys fencing` runs only those
// areas; any other argument goes to Stryker (`-- keys --mutate src/core/key.ts`).
//
// The store suites need Redis and PostgreSQL: without their URLs they would be skipped and
// every store mutant would survive, so the run refuses to start instead, and the tests it
// runs fail rather than skip (ONCELY_REQUIRE_SERVICES=1). ONCELY_MUTATING=1 runs the HTTP
// behaviour suites on the memory store only (test/helpers/stores.ts says why).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const AREAS = { keys: "key and fingerprint", engine: "engine (src/core)", fencing: "stores' fencing" };

const needed = ["ONCELY_TEST_REDIS_URL", "ONCELY_TEST_POSTGRES_URL"];
const missing = needed.filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`mutate: set ${missing.join(" and ")} (the store suites run against real servers)`);
  process.exit(2);
}

const args = process.argv.slice(2);
const chosen = args.filter((arg) => arg in AREAS);
const strykerArgs = args.filter((arg) => !(arg in AREAS));
const areas = chosen.length > 0 ? chosen : Object.keys(AREAS);
const stryker = fileURLToPath(
  new URL("../node_modules/@stryker-mutator/core/bin/stryker.js", import.meta.url),
);

for (const area of areas) {
  console.log(`\nmutate: ${AREAS[area]}`);
  const run = spawnSync(process.execPath, [stryker, "run", ...strykerArgs], {
    stdio: "inherit",
    env: { ...process.env, ONCELY_MUTATE_AREA: area, ONCELY_REQUIRE_SERVICES: "1", ONCELY_MUTATING: "1" },
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

console.log("\nMutation score by area (mutants killed or timed out, of all valid mutants):");
for (const area of Object.keys(AREAS)) {
  const file = `reports/mutation/${area}/mutation.json`;
  if (!existsSync(file)) continue;
  let killed = 0;
  let survived = 0;
  for (const { mutants } of Object.values(JSON.parse(readFileSync(file, "utf8")).files)) {
    for (const { status } of mutants) {
      if (status === "Killed" || status === "Timeout") killed += 1;
      else if (status === "Survived" || status === "NoCoverage") survived += 1;
    }
  }
  const score = ((100 * killed) / (killed + survived)).toFixed(1);
  console.log(`  ${AREAS[area]}: ${score}% (${killed} of ${killed + survived}; ${survived} survived)`);
}
