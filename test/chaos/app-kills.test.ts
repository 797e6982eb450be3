// Chaos: Express app processes sharing one store, SIGKILLed at random moments and right after
// their handler's side effect or its answer, restarted, under load.
import { afterEach, describe, expect, it } from "vitest";
import { createStore, type IdempotencyStore } from "../../src/index.js";
import { expectClean } from "./expect-clean.js";
import { CHAOS_RUNS, chaosApp, chaosRun, chaosStores, testTimeout } from "./run.js";

const BUDGET_MS = 45_000;

const stores = chaosStores(
  (name) => `chaos: app processes on ${name} killed under load`,
  [
    { name: "Redis", variable: "ONCELY_TEST_REDIS_URL" },
    { name: "PostgreSQL", variable: "ONCELY_TEST_POSTGRES_URL" },
  ],
);

describe.each(stores)("chaos: app processes on $name killed under load", ({ name, url }) => {
  let store: IdempotencyStore | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it(
    "executes each key once while its record lives, and loses no completed record",
    async () => {
      const storeUrl = url();
      // The test's own connection creates the schema first: processes racing to create it could meet a lock.
      store = await createStore(storeUrl);
      for (let run = 0; run < CHAOS_RUNS; run++) {
        const verdict = await chaosRun({
          name: `app-${name}`,
          spawn: chaosApp(storeUrl),
          owners: 2,
          keys: 20,
          randomKills: 2,
          pointKills: 2,
          store,
          budgetMs: BUDGET_MS,
          // Longer than the random kills can take to come (2 × 1.5 s), on any machine.
          spreadMs: 4_000,
        });
        expectClean(verdict);
        // The random kills, and at least the first at the witness (after an answer); a later one
        // may find its owner dead already and the load over before another execution comes.
        expect(verdict.kills).toBeGreaterThanOrEqual(3);
        expect(verdict.killsAfterAnswer).toBeGreaterThanOrEqual(1);
      }
    },
    testTimeout(BUDGET_MS),
  );
});
