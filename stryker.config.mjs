// Mutation testing: `npm run mutate` (scripts/mutate.mjs runs Stryker with this file once
// per area, naming it in ONCELY_MUTATE_AREA; vitest.mutate.config.ts picks that area's
// tests). Scores are published in docs/guarantees.md; reports go to reports/mutation/<area>/
// (not committed).

/** The key and fingerprint code: in the engine, and for events and clients. */
const keys = [
  "src/core/key.ts",
  "src/core/json-key.ts",
  "src/core/hashing.ts",
  "src/core/cookies.ts",
  "src/core/bytes.ts",
  "src/events/fingerprint.ts",
  "src/client/keys.ts",
];

/** The files each area mutates. */
export const areas = {
  keys,
  // The engine: every file of src/core but the key code and the one that only declares types.
  engine: ["src/core/**/*.ts", "!src/core/request.ts", ...keys.map((file) => `!${file}`)],
  // Each store's fencing: the claim and every write that an owner token guards, and the
  // code that reads the statements' answers. The SQL and Lua texts themselves are string
  // constants, where Stryker could only blank a whole statement (which every test notices
  // at once); docs/guarantees.md says how their owner predicates are checked instead.
  // The ranges name methods (test/scripts/mutate.test.ts checks they still do).
  fencing: [
    "src/stores/memory/store.ts:124-221",
    "src/stores/memory/store.ts:344-348",
    "src/stores/sqlite/store.ts:109-139",
    "src/stores/sqlite/store.ts:240-302",
    "src/stores/sqlite/store.ts:342-344",
    "src/stores/redis/store.ts:180-228",
    "src/stores/postgres/store.ts:147-151",
    "src/stores/postgres/store.ts:246-328",
  ],
};

const area = process.env.ONCELY_MUTATE_AREA ?? "keys";
const reports = `reports/mutation/${area}`;

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  // Each mutant runs only the tests that executed its code during the first, unmutated run.
  coverageAnalysis: "perTest",
  // A static mutant (a module-level constant) would need every test for each of its mutants.
  ignoreStatic: true,
  mutate: areas[area] ?? [],
  // Two cores: one test process per core.
  concurrency: 2,
  timeoutMS: 10_000,
  incremental: true,
  incrementalFile: `${reports}/incremental.json`,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: `${reports}/index.html` },
  jsonReporter: { fileName: `${reports}/mutation.json` },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  thresholds: { high: 90, low: 80, break: null },
};
