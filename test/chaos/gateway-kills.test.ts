// Chaos: `oncely serve` gateway processes sharing one store in front of the witness,
// SIGKILLed at random moments, right after the upstream's side effect and right after its
// answer (before the gateway completed the record), restarted, under load.
import { afterEach, describe, expect, it } from "vitest";
import { createStore, type IdempotencyStore } from "../../src/index.js";
import { startGateway } from "../gateway/helpers.js";
import { expectClean } from "./expect-clean.js";
import { CHAOS_RUNS, chaosRun, chaosStores, LEASE_MS, testTimeout } from "./run.js";

// A restarted gateway takes seconds to start on a loaded machine: more time, fewer kills than the apps get.
const BUDGET_MS = 60_000;

const stores = chaosStores(
  (name) => `chaos: gateway processes on ${name} killed under load`,
  [{ name: "PostgreSQL", variable: "ONCELY_TEST_POSTGRES_URL" }],
);

describe.each(stores)("chaos: gateway processes on $name killed under load", ({ name, url }) => {
  let store: IdempotencyStore | undefined;
  afterEach(async () => {
    await store?.close();
  });

  it(
    "executes each key once while its record lives, also when killed between the upstream's answer and the record's completion",
    async () => {
      const storeUrl = url();
      store = await createStore(storeUrl);
      for (let run = 0; run < CHAOS_RUNS; run++) {
        const verdict = await chaosRun({
          name: `gateway-${name}`,
          spawn: (_, upstream) =>
            startGateway([
              "--upstream",
              upstream,
              "--store",
              storeUrl,
              "--lease",
              `${LEASE_MS}ms`,
              "--log-level",
              "warn",
            ]),
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
