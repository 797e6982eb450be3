// `npm run bench:frameworks`: requests/s and latency of POST /orders in every framework
// oncely has an adapter for, bare and behind oncely on the memory store, for unique keys
// and for replays. Every target runs in its own process; the load comes from this one.
// Each framework's three scenarios run ROUNDS times, interleaved, and the medians are
// reported with the ratio to that framework's bare run. Writes the table into
// docs/benchmarks.md between the frameworks markers.
import { randomUUID } from "node:crypto";
import { type Child, startChild } from "../test/helpers/processes.js";
import { measureInterleaved, median, postOrder } from "./load.js";
import { writeBenchmarkSection } from "./report.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = 50;
const body = JSON.stringify({ sku: "A-1", quantity: 2 });
const FRAMEWORKS = [
  ["node", "node:http"],
  ["express", "Express 5"],
  ["fetch", "fetch handler (@hono/node-server)"],
  ["hono", "Hono (@hono/node-server)"],
  ["fastify", "Fastify 5"],
  ["koa", "Koa 3"],
  ["nestjs", "NestJS 11 (Express)"],
] as const;
const only = process.env.BENCH_FRAMEWORKS?.split(",");

/** The median of the per-round ratios `runs[i] / baseline[i]`, with their range. */
function ratio(runs: readonly number[], baseline: readonly number[]): string {
  const ratios = runs.map((rps, round) => rps / (baseline[round] as number));
  const [low, high] = [Math.min(...ratios), Math.max(...ratios)];
  return `${median(ratios).toFixed(2)}× (${low.toFixed(2)}–${high.toFixed(2)})`;
}

const run = randomUUID().slice(0, 8);
let counter = 0;
const uniqueKey = () => `bench-${run}-${++counter}`;
const replayKeys = Array.from({ length: 100 }, (_, i) => `replay-${run}-${i}`);
const replayKey = () => replayKeys[++counter % replayKeys.length];

const lines = [
  `\`POST /orders\` (JSON body, a 2 ms simulated database call, 201 JSON answer) in each framework, bare and behind its oncely adapter on the memory store; the compiled package; ${CONNECTIONS} connections, ${SECONDS} s per run, median of ${ROUNDS} interleaved rounds per framework; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; the load generator and the server share the machine's 2 cores, which other work was using too. Bare gets the very requests of the unique-key runs, key header included.`,
  "",
  "| framework | bare req/s | oncely unique keys req/s | vs bare | oncely replays req/s | vs bare | p50 / p99 ms bare | p50 / p99 ms unique keys |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const [framework, label] of FRAMEWORKS) {
  if (only && !only.includes(framework)) continue;
  const children: Child[] = [];
  try {
    const bare = await startChild("bench/framework-server.ts", [framework, "bare"]);
    children.push(bare);
    const guarded = await startChild("bench/framework-server.ts", [framework, "oncely"]);
    children.push(guarded);
    // Store the replay keys once, and warm both processes up.
    for (const key of replayKeys) await postOrder(guarded.url, key, body);
    for (let i = 0; i < 100; i++) await postOrder(bare.url, uniqueKey(), body);
    const [plain, unique, replays] = await measureInterleaved(
      [
        { name: `${label} bare`, url: `${bare.url}/orders`, key: uniqueKey },
        { name: `${label} oncely unique keys`, url: `${guarded.url}/orders`, key: uniqueKey },
        { name: `${label} oncely replays`, url: `${guarded.url}/orders`, key: replayKey },
      ],
      { rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS, body },
    );
    if (!plain || !unique || !replays) throw new Error("a scenario is missing");
    lines.push(
      `| ${label} | ${plain.rps.toFixed(0)} | ${unique.rps.toFixed(0)} | ${ratio(unique.runs, plain.runs)} | ${replays.rps.toFixed(0)} | ${ratio(replays.runs, plain.runs)} | ${plain.p50} / ${plain.p99} | ${unique.p50} / ${unique.p99} |`,
    );
  } finally {
    await Promise.all(children.map((child) => child.stop("SIGKILL")));
  }
}
lines.push(
  "",
  '"vs bare" is the median of the ratios taken round by round (each round runs bare and oncely back to back), with the lowest and highest of them: steadier than a ratio of medians when the machine\'s speed drifts between rounds.',
);
const text = lines.join("\n");
console.log(`\n${text}`);
if (!only) writeBenchmarkSection("frameworks", text);
