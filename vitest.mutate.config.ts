import { relative } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// The tests `npm run mutate` (Stryker) runs against the mutants of each area (see
// stryker.config.mjs): those that exercise the area's code directly. Adapters other than
// Node, the CLI, the gateway and the process suites reach the same code through more
// layers, and each would make every mutant slower; so would the engine's HTTP suites for
// the key code, which the property tests of test/core cover, and the browser-key suite for
// the engine (its keys and cookies are key code, and it runs gateways as child processes,
// whose coverage Stryker cannot see).
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
    "test/stores/sqlite-schema.test.ts",
    "test/stores/redis.test.ts",
    "test/stores/postgres.test.ts",
    "test/stores/state-machine.test.ts",
  ],
};

/** Files of an area's globs that are left out of it. */
const excluded: Record<string, string[]> = {
  engine: ["test/http/browser-keys.test.ts"],
};

const area = process.env.ONCELY_MUTATE_AREA ?? "keys";

/**
 * Each mutant runs its covering tests until the first one fails (Stryker sets `bail`), so a
 * killed mutant costs the files run before the failing one. Vitest's default runs the
 * slowest files first; this runs the file that failed last first (the next mutant sits
 * near the last one and often dies the same way), then the quickest.
 */
class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const results = (file: TestSpecification) =>
      this.ctx.cache.getFileTestResults(
        `${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`,
      );
    return [...files].sort((a, b) => {
      const [first, second] = [results(a), results(b)];
      if (!first || !second) return 0;
      if (first.failed !== second.failed) return first.failed ? -1 : 1;
      return first.duration - second.duration;
    });
  }
}

export default defineConfig({
  test: {
    include: tests[area] ?? [],
    exclude: ["**/node_modules/**", ...(excluded[area] ?? [])],
    sequence: { sequencer: QuickFirst },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
