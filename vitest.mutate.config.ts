import { defineConfig } from "vitest/config";

// The tests `npm run mutate` (Stryker) runs against the mutants of each area (see
// stryker.config.mjs): those that exercise the area's code directly. Adapters other than
// Node, the CLI, the gateway and the process suites reach the same code through more
// layers, and each would make every mutant slower; so would the engine's HTTP suites for
// the key code, which the property tests of test/core cover.
const tests: Record<string, string[]> = {
  keys: [
    "test/core/**/*.test.ts",
    "test/http/keys.test.ts",
    "test/http/scope-fingerprint.test.ts",
    "test/events/fingerprint.test.ts",
    "test/client/keys.test.ts",
  ],
  engine: [
    "test/core/**/*.test.ts",
    "test/http/**/*.test.ts",
    "test/adapters/node.test.ts",
    "test/guarantees/late-claim.test.ts",
  ],
  fencing: [
    "test/stores/memory.test.ts",
    "test/stores/sqlite.test.ts",
    "test/stores/redis.test.ts",
    "test/stores/postgres.test.ts",
    "test/stores/state-machine.test.ts",
  ],
};

export default defineConfig({
  test: {
    include: tests[process.env.ONCELY_MUTATE_AREA ?? "keys"] ?? [],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
