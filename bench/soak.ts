// `npm run soak`: minutes of steady traffic through `oncely serve` and through the Express
// adapter, on SQLite and on Redis, all four at once; prints memory over time, unexpected
// answers, executions per key and latency, and exits 1 when an invariant fails or memory
// keeps growing once warm. See docs/guarantees.md (Soak) for the figures and the flags.
//
//   npm run soak -- [--duration 5m] [--rate 10] [--only gateway,express] [--stores sqlite,redis]
//                   [--redis redis://127.0.0.1:6379] [--sample 2s] [--rss-tolerance 4] [--heap-tolerance 1]
import { parseArgs } from "node:util";
import { parseChoice, parseDuration, parseList } from "../src/cli/values.js";
import { formatReport, runSoak, type SoakOptions } from "./soak/run.js";

/** The options from the command line, or a one-line message and exit code 2. */
function readOptions(): SoakOptions & { readonly duration: string } {
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
  const fronts = parseList(values.only).map((front) => parseChoice(front, ["gateway", "express"] as const));
  const stores = parseList(values.stores).map((store) => parseChoice(store, ["sqlite", "redis"] as const));
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
    return value;
  };
  return {
    duration: values.duration,
    durationMs: parseDuration(values.duration),
    rate: positive("rate", values.rate),
    combinations: fronts.flatMap((front) => stores.map((store) => ({ front, store }))),
    redisUrl: values.redis ?? process.env.ONCELY_TEST_REDIS_URL,
    sampleMs: parseDuration(values.sample),
    warmup: 0.2,
    tolerance: {
      rss: positive("rss-tolerance", values["rss-tolerance"]),
      heapUsed: positive("heap-tolerance", values["heap-tolerance"]),
    },
    progress: (line: string) => console.log(line),
  };
}

let options: ReturnType<typeof readOptions>;
try {
  options = readOptions();
  if (options.combinations.some(({ store }) => store === "redis") && !options.redisUrl)
    throw new Error("a soak on Redis needs --redis URL (or ONCELY_TEST_REDIS_URL), or --stores sqlite");
} catch (error) {
  console.error(`soak: ${(error as Error).message}`);
  process.exit(2);
}
console.log(
  `soak: ${options.combinations.map(({ front, store }) => `${front} on ${store}`).join(", ")} at once, ` +
    `${options.rate} operations/s each, for ${options.duration}`,
);
const results = await runSoak(options);
console.log(formatReport(results, options));
process.exit(results.every((result) => result.failures.length === 0) ? 0 : 1);
