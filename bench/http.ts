// `npm run bench`: requests/s and p50/p99 latency of an Express write endpoint, bare and
// behind oncely (memory, SQLite, and Redis and PostgreSQL when ONCELY_TEST_REDIS_URL and
// ONCELY_TEST_POSTGRES_URL are set), for unique keys and for replays. Every variant runs in
// its own process; the load comes from this one (autocannon). Each scenario runs ROUNDS
// times, interleaved, and the median is reported, with the ratio to bare in the same run.
// Then it counts the store round trips per request phase from the servers' own statistics.
// Writes both tables into docs/benchmarks.md between the http markers.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, startChild } from "../test/helpers/processes.js";
import { measureInterleaved, postOrder, type Scenario } from "./load.js";
import { writeBenchmarkSection } from "./report.js";
import { countRoundTrips } from "./round-trips.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const body = JSON.stringify({ sku: "A-1", quantity: 2 });

// Keys unique to this run, so that shared Redis and PostgreSQL servers start empty for it.
const run = randomUUID().slice(0, 8);
let counter = 0;
const uniqueKey = () => `bench-${run}-${++counter}`;
const replayKeys = Array.from({ length: 100 }, (_, i) => `replay-${run}-${i}`);
const replayKey = () => replayKeys[++counter % replayKeys.length];

const dir = mkdtempSync(join(tmpdir(), "oncely-bench-"));
const redisUrl = process.env.ONCELY_TEST_REDIS_URL;
const postgresUrl = process.env.ONCELY_TEST_POSTGRES_URL;
if (!redisUrl) console.log("no Redis rows: ONCELY_TEST_REDIS_URL is not set");
if (!postgresUrl) console.log("no PostgreSQL rows: ONCELY_TEST_POSTGRES_URL is not set");
// Each group runs on its own, against its own bare baseline: a database server keeps
// working (vacuum, checkpoints) after its scenario ends and would slow whatever ran next.
const groups: Array<Array<{ name: string; url: string }>> = [
  [
    { name: "memory", url: "memory" },
    { name: "SQLite", url: `sqlite:${join(dir, "bench.db")}` },
  ],
  [
    ...(redisUrl ? [{ name: "Redis", url: redisUrl }] : []),
    ...(postgresUrl ? [{ name: "PostgreSQL", url: postgresUrl }] : []),
  ],
].filter((group) => group.length > 0);

const children: Child[] = [];
try {
  const bare = await startChild("bench/server.ts", ["bare"]);
  children.push(bare);
  const guarded = new Map<string, string>();
  const lines = [
    `Express 5 \`POST /orders\` (JSON body, a 2 ms simulated database call, 201 JSON answer), the compiled package; ${CONNECTIONS} connections, ${SECONDS} s per run, median of ${ROUNDS} interleaved runs; Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; the load generator, the server and the database share the machine's 2 cores. Each group of stores runs separately with its own bare baseline.`,
    "",
    "| scenario | requests/s (median) | vs bare | p50 ms | p99 ms |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const group of groups) {
    // Bare gets the very requests of the unique-key runs, key header included: parsing a
    // header the client sends is the traffic's cost, not oncely's.
    const scenarios: Scenario[] = [
      { name: "bare Express (same requests, key ignored)", url: bare.url, key: uniqueKey },
    ];
    for (const store of group) {
      const child = await startChild("bench/server.ts", [store.url]);
      children.push(child);
      guarded.set(store.name, child.url);
      // Store the replay keys once, and warm the process up.
      for (const key of replayKeys) await postOrder(child.url, key, body);
      scenarios.push(
        { name: `oncely ${store.name}, unique keys`, url: child.url, key: uniqueKey },
        { name: `oncely ${store.name}, replays`, url: child.url, key: replayKey },
      );
    }
    const rows = await measureInterleaved(
      scenarios.map((scenario) => ({ ...scenario, url: `${scenario.url}/orders` })),
      { rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS, body },
    );
    const baseline = rows[0] as (typeof rows)[number];
    lines.push(
      ...rows.map(
        (row) =>
          `| ${row.name} | ${row.rps.toFixed(0)} | ${(row.rps / baseline.rps).toFixed(2)}× | ${row.p50} | ${row.p99} |`,
      ),
    );
  }

  const counted = await countRoundTrips({
    redisUrl,
    postgresUrl,
    guarded,
    send: async (url, key) => {
      await postOrder(url, key, body);
    },
    newKey: uniqueKey,
  });
  if (counted.length > 0) {
    lines.push(
      "",
      "Store round trips per request, counted by the servers themselves (Redis: the commands clients sent, from `MONITOR`, not those scripts ran; PostgreSQL `pg_stat_database.xact_commit`: every statement of the store is its own transaction) over 200 sequential requests per phase:",
      "",
      "| store | new key (claim + complete) | replay (claim returns the record) |",
      "| --- | ---: | ---: |",
      ...counted.map((row) => `| ${row.store} | ${row.execute.toFixed(2)} | ${row.replay.toFixed(2)} |`),
    );
  }
  const text = lines.join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection("http", text);
} finally {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  rmSync(dir, { recursive: true, force: true });
}
