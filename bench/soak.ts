// `npm run soak`: minutes of steady traffic through `oncely serve` and through the Express
// adapter, on SQLite and on Redis, all four at once; prints memory over time, unexpected
// answers, executions per key and latency, and exits 1 when an invariant fails or memory
// keeps growing once warm. See docs/guarantees.md (Soak) for the figures and the flags.
//
//   npm run soak -- [--duration 5m] [--rate 10] [--only gateway,express] [--stores sqlite,redis]
//                   [--redis redis://127.0.0.1:6379] [--sample 2s] [--rss-tolerance 4] [--heap-tolerance 1]
import { parseArgs } from "node:util";
import { parseDuration } from "../src/cli/values.js";
import { formatReport, runSoak, type SoakStore } from "./soak/run.js";
import type { Front } from "./soak/targets.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "5m" },
    rate: { type: "string", default: "10" },
    only: { type: "string", default: "gateway,express" },
    stores: { type: "string", default: "sqlite,redis" },
    redis: { type: "string" },
    sample: { type: "string", default: "2s" },
    "rss-tolerance": { type: "string", default: "4" },
    "heap-tolerance": { type: "string", default: "1" },
  },
});

const fronts = values.only.split(",") as Front[];
const stores = values.stores.split(",") as SoakStore[];
const options = {
  durationMs: parseDuration(values.duration),
  rate: Number(values.rate),
  combinations: fronts.flatMap((front) => stores.map((store) => ({ front, store }))),
  redisUrl: values.redis ?? process.env.ONCELY_TEST_REDIS_URL,
  sampleMs: parseDuration(values.sample),
  warmup: 0.2,
  tolerance: { rss: Number(values["rss-tolerance"]), heapUsed: Number(values["heap-tolerance"]) },
  progress: (line: string) => console.log(line),
};
console.log(
  `soak: ${options.combinations.map(({ front, store }) => `${front} on ${store}`).join(", ")} at once, ` +
    `${options.rate} operations/s each, for ${values.duration}`,
);
const results = await runSoak(options);
console.log(formatReport(results, options));
process.exit(results.every((result) => result.failures.length === 0) ? 0 : 1);
