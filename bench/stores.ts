// `npm run bench:stores`: each durable store against its own least-layer yardstick
// (bench/least-stores.ts) and bare Express, with the store server's CPU per request beside
// Node's. SQLite always; Redis on a private redis-server started here (so that its CPU is
// ours alone) when `redis-server` is on the PATH; PostgreSQL when ONCELY_TEST_POSTGRES_URL
// is set, its CPU read from /proc for the backends of this benchmark's connections (each
// server names them by application_name).
// Each scenario sends AMOUNT requests at 50 connections, ROUNDS times interleaved; medians
// are reported, and ratios are medians of per-round ratios. Writes docs/benchmarks.md's
// "stores" section.
// BENCH_BASELINE_DIR=<another built checkout> adds that checkout's oncely as rows, to compare
// a change with what it replaces in the same run. BENCH_STORES=SQLite,Redis picks stores.
// BENCH_PG_POOL=50 adds PostgreSQL rows with a pool of that many connections (10 by default).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type Child, startChild } from "../test/helpers/processes.js";
import { load, median, postOrder } from "./load.js";
import { writeBenchmarkSection } from "./report.js";
import {
  type CpuMeter,
  cpuMicroseconds,
  postgresBackends,
  privateRedis,
  type SentShares,
  SHARE_REQUESTS,
  sentCommandTime,
} from "./store-cpu.js";

const AMOUNT = Number(process.env.BENCH_AMOUNT ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const ONLY = process.env.BENCH_STORES?.split(",");
const body = JSON.stringify({ sku: "A-1", quantity: 2 });
const run = randomUUID().slice(0, 8);
let counter = 0;
const replayKeys = Array.from({ length: 100 }, (_, i) => `stores-replay-${run}-${i}`);
const keys = {
  unique: () => `stores-${run}-${++counter}`,
  replay: () => replayKeys[++counter % replayKeys.length],
};

interface Target {
  readonly name: string;
  /** The URL each server gets, given the name of its connections. */
  readonly url: (connectionName: string) => string;
  /** The store server's CPU for the connections of that name; none for an embedded store. */
  readonly meter?: (connectionName: string) => Promise<CpuMeter>;
}

const baselineDir = process.env.BENCH_BASELINE_DIR;
const baselineCommit = baselineDir ? `baseline build ${commitOf(baselineDir)}` : "";
const dir = mkdtempSync(join(tmpdir(), "oncely-bench-stores-"));
const cleanups: Array<() => Promise<void>> = [];
const targets: Target[] = [{ name: "SQLite", url: (name) => `sqlite:${join(dir, `${name}.db`)}` }];
try {
  const redis = await privateRedis();
  cleanups.push(() => redis.meter.close());
  targets.push({
    name: "Redis",
    // The baseline build keeps its records under a prefix of its own: a change of the record
    // layout must not have one build read what the other wrote.
    url: (name) => (name === "baseline" ? `${redis.url}?prefix=baseline:` : redis.url),
    meter: async () => redis.meter,
  });
} catch (error) {
  console.log(`no Redis rows: cannot start redis-server (${String(error)})`);
}
const postgresUrl = process.env.ONCELY_TEST_POSTGRES_URL;
if (postgresUrl) {
  const named = (name: string) => {
    const url = new URL(postgresUrl);
    url.searchParams.set("application_name", `oncely-bench-${run}-${name}`);
    // As on Redis, the baseline build gets tables of its own.
    if (name === "baseline") url.searchParams.set("table", "baseline");
    return url.href;
  };
  targets.push({
    name: "PostgreSQL",
    url: named,
    meter: (name) => postgresBackends(postgresUrl, `oncely-bench-${run}-${name}`),
  });
} else console.log("no PostgreSQL rows: ONCELY_TEST_POSTGRES_URL is not set");

interface Scenario {
  readonly name: string;
  readonly child: Child;
  readonly meter: CpuMeter | undefined;
  readonly key: keyof typeof keys;
  /** Redis: see `CpuMeter.sentShares`. */
  shares?: SentShares;
}
interface Sample {
  rps: number;
  p50: number;
  p99: number;
  node: number;
  store: number;
  commands: number;
}

const children: Child[] = [];
const lines: string[] = [];
try {
  for (const target of targets.filter((t) => !ONLY || ONLY.includes(t.name))) {
    const scenarios: Scenario[] = [];
    const server = async (name: string, variant: string, script = "bench/server.ts") => {
      const child = await startChild(script, [variant]);
      children.push(child);
      const meter = await target.meter?.(name);
      if (meter && target.name === "PostgreSQL") cleanups.push(() => meter.close());
      for (const key of replayKeys) await postOrder(child.url, key, body);
      return { child, meter };
    };
    const bare = await server("bare", "bare");
    scenarios.push({ name: "bare Express (same requests, key ignored)", ...bare, key: "unique" });
    const least = await server("least", `least-layer:${target.url("least")}`);
    scenarios.push({ name: "least layer, unique keys", ...least, key: "unique" });
    scenarios.push({ name: "least layer, replays", ...least, key: "replay" });
    const oncely = await server("oncely", target.url("oncely"));
    scenarios.push({ name: "oncely, unique keys", ...oncely, key: "unique" });
    scenarios.push({ name: "oncely, replays", ...oncely, key: "replay" });
    const started = [bare, least, oncely];
    const pool = process.env.BENCH_PG_POOL;
    if (pool && target.name === "PostgreSQL") {
      const wide = await server("pool", `pool=${pool}:${target.url("pool")}`);
      started.push(wide);
      scenarios.push({ name: `oncely, pool of ${pool}, unique keys`, ...wide, key: "unique" });
      scenarios.push({ name: `oncely, pool of ${pool}, replays`, ...wide, key: "replay" });
    }
    if (baselineDir) {
      const baseline = await server("baseline", target.url("baseline"), join(baselineDir, "bench/server.ts"));
      started.push(baseline);
      scenarios.push({ name: `oncely ${baselineCommit}, unique keys`, ...baseline, key: "unique" });
      scenarios.push({ name: `oncely ${baselineCommit}, replays`, ...baseline, key: "replay" });
    }

    for (const scenario of scenarios) {
      if (!scenario.meter?.sentShares || scenario.child === bare.child) continue;
      scenario.shares = await scenario.meter.sentShares(() =>
        postOrder(scenario.child.url, keys[scenario.key]() as string, body),
      );
    }
    const samples = scenarios.map(() => [] as Sample[]);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [index, scenario] of scenarios.entries()) {
        const nodeBefore = cpuMicroseconds(scenario.child.pid);
        const storeBefore = (await scenario.meter?.read()) ?? { cpu: 0 };
        const figures = await load({
          url: `${scenario.child.url}/orders`,
          connections: CONNECTIONS,
          seconds: 0,
          amount: AMOUNT,
          body,
          key: keys[scenario.key],
        });
        const storeAfter = (await scenario.meter?.read()) ?? { cpu: 0 };
        // Bare Express sends nothing to the store: whatever the server did then is not ours.
        const ours = scenario.child !== bare.child;
        const sample = {
          rps: figures.rps,
          p50: figures.p50,
          p99: figures.p99,
          node: (cpuMicroseconds(scenario.child.pid) - nodeBefore) / figures.requests,
          store: ours ? (storeAfter.cpu - storeBefore.cpu) / figures.requests : 0,
          commands: ours
            ? sentCommandTime(storeBefore.commands, storeAfter.commands, scenario.shares) / figures.requests
            : 0,
        };
        samples[index]?.push(sample);
        console.log(
          `${target.name} round ${round} ${scenario.name}: ${sample.rps.toFixed(0)} req/s, p50 ${sample.p50} ms, Node ${sample.node.toFixed(0)} µs, store ${sample.store.toFixed(1)} µs (commands ${sample.commands.toFixed(1)} µs) per request`,
        );
      }
    }
    const of = (index: number, pick: (sample: Sample) => number) => median((samples[index] ?? []).map(pick));
    // Per-round ratios, then their median: the machine drifts between rounds more than within one.
    const ratio = (index: number, to: number, pick: (sample: Sample) => number) =>
      median(
        (samples[index] ?? []).map(
          (sample, round) => pick(sample) / pick((samples[to] ?? [])[round] as Sample),
        ),
      );
    const cpu = (sample: Sample) => sample.node + sample.store;
    const commandColumn = target.name === "Redis";
    lines.push(
      `### ${target.name}`,
      "",
      `| scenario | requests/s | vs bare | p50 ms | p99 ms | Node CPU µs/request | store CPU µs/request |${commandColumn ? " Redis command µs/request |" : ""} CPU vs least layer |`,
      `| --- | ---: | ---: | ---: | ---: | ---: | ---: |${commandColumn ? " ---: |" : ""} ---: |`,
      ...scenarios.map((scenario, index) => {
        const leastIndex = scenario.key === "unique" ? 1 : 2;
        const versusLeast = scenario.name.startsWith("oncely")
          ? `${ratio(index, leastIndex, cpu).toFixed(2)}×`
          : "";
        return `| ${scenario.name} | ${of(index, (s) => s.rps).toFixed(0)} | ${ratio(index, 0, (s) => s.rps).toFixed(2)}× | ${of(index, (s) => s.p50)} | ${of(index, (s) => s.p99)} | ${of(index, (s) => s.node).toFixed(0)} | ${target.meter ? of(index, (s) => s.store).toFixed(1) : "(in Node)"} |${commandColumn ? ` ${of(index, (s) => s.commands).toFixed(1)} |` : ""} ${versusLeast} |`;
      }),
      "",
    );
    await Promise.all(started.map(({ child }) => child.stop("SIGKILL")));
  }
  const text = [
    `Express 5 \`POST /orders\` of \`npm run bench\` (2 ms simulated database call), the compiled package; ${CONNECTIONS} connections, ${AMOUNT} requests per run, ${ROUNDS} interleaved rounds, medians; "vs bare" and "CPU vs least layer" are medians of per-round ratios, CPU being Node's plus the store server's. Node CPU from /proc of the server process; Redis CPU from /proc of a redis-server started for the benchmark (no persistence), and the time inside the commands the server sent from \`INFO commandstats\` (without network I/O; a script's time includes the commands it runs, which Redis also lists under their own names: a command counts in the share of its calls that clients sent, taken from MONITOR over ${SHARE_REQUESTS} requests of each scenario before the rounds); PostgreSQL CPU from /proc of the backends serving the server's connections (WAL writer and checkpointer not counted). The least layer is bench/least-stores.ts: the fewest statements any layer needs on that store. Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; nothing pinned, the load generator, the servers and the databases share the machine's 2 cores.`,
    "",
    ...lines,
  ].join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection("stores", text.trimEnd());
} finally {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

/** The commit a checkout is at, or its directory when it is no git checkout. */
function commitOf(checkout: string): string {
  try {
    return execFileSync("git", ["-C", checkout, "log", "-1", "--format=%h"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return basename(checkout);
  }
}
