// `npm run bench:waiters`: 1,000 duplicates of one key wait (over HTTP, `wait` of 60 s) for an
// original that answers 1 s after they all reached the app, on each durable store, with the store waking them
// (`notify`: LISTEN/NOTIFY, pub/sub, in-process wake-ups) and with the polling that stores
// without notifications get (`poll`). Reported per run: when the duplicates got their replay,
// counted from the moment the original's answer arrived (p50, p99); what the store served
// meanwhile (Redis: the commands the store sent, counted in the app server; PostgreSQL:
// transactions of the database, each store statement being one); the most connections
// open to the store; the store server's CPU and the app server's. Modes alternate within
// each of ROUNDS rounds; medians are reported, and the section "waiters" of
// docs/benchmarks.md is rewritten.
// Redis runs on a private redis-server (its CPU is ours alone); PostgreSQL when
// ONCELY_TEST_POSTGRES_URL is set, on that database, which nothing else should use meanwhile.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { type Child, startChild } from "../test/helpers/processes.js";
import { median } from "./load.js";
import { writeBenchmarkSection } from "./report.js";
import { type CpuMeter, cpuMicroseconds, postgresBackends, privateRedis } from "./store-cpu.js";

const DUPLICATES = Number(process.env.BENCH_DUPLICATES ?? 1_000);
/** How long the duplicates wait, once all have arrived, before the original answers. */
const WAIT_MS = 1_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MODES = ["notify", "poll"] as const;
type Mode = (typeof MODES)[number];
const run = randomUUID().slice(0, 8);

/** What the store served during one run, read before and after it. */
interface StoreCounters {
  /** Store server CPU, µs (0 for SQLite, which runs inside the app server). */
  cpu: number;
  /** Redis: commands the store sent; PostgreSQL: transactions the server ran. */
  operations: number;
  /** Connections open to the store server now. */
  connections(): Promise<number>;
}

interface Target {
  readonly name: string;
  readonly url: (mode: Mode) => string;
  /** Reads the counters of the store server for `child`, the app server of `mode`. */
  readonly counters?: (
    mode: Mode,
    child: Child,
  ) => Promise<{ read(): Promise<StoreCounters>; close(): Promise<void> }>;
}

interface Sample {
  p50: number;
  p99: number;
  last: number;
  failed: number;
  /** What the failed ones got: status → count. */
  failures: string;
  operations: number;
  connections: number;
  storeCpu: number;
  nodeCpu: number;
}

const dir = mkdtempSync(join(tmpdir(), "oncely-bench-waiters-"));
const cleanups: Array<() => Promise<void>> = [];
const targets: Target[] = [];
try {
  const redis = await privateRedis();
  cleanups.push(() => redis.meter.close());
  const client = new Redis(redis.url);
  cleanups.push(async () => client.disconnect());
  targets.push({
    name: "Redis",
    url: () => redis.url,
    counters: async (_mode, child) => ({
      async read() {
        // Counted where they are sent: INFO commandstats would also count the commands each
        // script runs inside Redis, under the same names (SET) as those the store sends.
        const sent = Number(await (await fetch(`${child.url}/redis-commands`)).json());
        // The store sent INFO when it connected, before any reading.
        if (!(sent > 0))
          throw new Error("the app server counted no Redis command: is ioredis 5.11 or later?");
        return {
          cpu: (await redis.meter.read()).cpu,
          operations: sent,
          connections: async () => {
            // The benchmark's own two connections (stats and this one) are not the app's.
            const list = String(await client.call("CLIENT", "LIST"));
            return list.split("\n").filter((line) => line.includes("id=")).length - 2;
          },
        };
      },
      close: async () => {},
    }),
  });
} catch (error) {
  console.log(`no Redis rows: cannot start redis-server (${String(error)})`);
}
const postgresUrl = process.env.ONCELY_TEST_POSTGRES_URL;
if (postgresUrl) {
  const application = (mode: Mode) => `oncely-bench-waiters-${run}-${mode}`;
  // Readings go through the maintenance database, so they add no transaction to the measured one.
  const maintenance = new URL(postgresUrl);
  const database = maintenance.pathname.slice(1);
  maintenance.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: maintenance.href });
  await admin.connect();
  cleanups.push(() => admin.end());
  targets.push({
    name: "PostgreSQL",
    url: (mode) => {
      const url = new URL(postgresUrl);
      url.searchParams.set("application_name", application(mode));
      return url.href;
    },
    counters: async (mode) => {
      const cpu: CpuMeter = await postgresBackends(maintenance.href, application(mode));
      return {
        async read() {
          const { rows } = await admin.query<{ commits: string }>(
            "SELECT xact_commit + xact_rollback AS commits FROM pg_stat_database WHERE datname = $1",
            [database],
          );
          return {
            cpu: (await cpu.read()).cpu,
            operations: Number(rows[0]?.commits ?? 0),
            connections: async () => {
              const result = await admin.query<{ open: number }>(
                "SELECT count(*)::integer AS open FROM pg_stat_activity WHERE application_name = $1",
                [application(mode)],
              );
              return result.rows[0]?.open ?? 0;
            },
          };
        },
        close: () => cpu.close(),
      };
    },
  });
} else console.log("no PostgreSQL rows: ONCELY_TEST_POSTGRES_URL is not set");
targets.push({ name: "SQLite", url: (mode) => `sqlite:${join(dir, `${mode}.db`)}` });

/** One connection per request, as a thousand separate clients would have. */
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

/** POSTs with `key` and resolves with the status, whether it was a replay, and when it ended. */
function post(url: string, key: string): Promise<{ status: number; replayed: boolean; at: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/orders`,
      { method: "POST", agent, headers: { "content-type": "application/json", "idempotency-key": key } },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            replayed: res.headers["x-idempotency-replayed"] === "true",
            at: performance.now(),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}

/** How many requests reached the app server so far. */
async function arrivals(url: string): Promise<number> {
  const response = await fetch(`${url}/arrivals`);
  return Number(await response.json());
}

/** `status×count` pairs, for the log. */
function tally(statuses: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, count]) => `${status}×${count}`).join(" ");
}

/** The p-th percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function measure(
  child: Child,
  counters: { read(): Promise<StoreCounters> } | undefined,
): Promise<Sample> {
  const key = `waiters-${run}-${randomUUID()}`;
  const before = await counters?.read();
  const nodeBefore = cpuMicroseconds(child.pid);
  const arrivedBefore = await arrivals(child.url);
  const original = post(child.url, key);
  // Let the original claim the key first, as it does when duplicates are retries.
  await sleep(50);
  let connections = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling && before) {
      connections = Math.max(connections, await before.connections());
      await sleep(25);
    }
  })();
  const duplicates = Promise.all(Array.from({ length: DUPLICATES }, () => post(child.url, key)));
  // Every duplicate has reached the app (opening a thousand connections takes a while on a
  // busy machine); then they all wait WAIT_MS more before the original answers.
  while ((await arrivals(child.url)) < arrivedBefore + 1 + DUPLICATES) await sleep(20);
  await sleep(WAIT_MS);
  const goes = await fetch(`${child.url}/go`);
  await goes.arrayBuffer();
  const { at: originalAt } = await original;
  const replies = await duplicates;
  sampling = false;
  await sampler;
  const nodeCpu = cpuMicroseconds(child.pid) - nodeBefore;
  // PostgreSQL backends publish their transaction counts within a second of going idle.
  await sleep(counters ? 1_500 : 0);
  const after = await counters?.read();
  const waits = replies
    .filter((reply) => reply.status === 201 && reply.replayed)
    .map((reply) => reply.at - originalAt)
    .sort((a, b) => a - b);
  return {
    p50: percentile(waits, 50),
    p99: percentile(waits, 99),
    last: waits.at(-1) ?? Number.NaN,
    failed: DUPLICATES - waits.length,
    failures: tally(
      replies.filter((reply) => !(reply.status === 201 && reply.replayed)).map((reply) => reply.status),
    ),
    operations: (after?.operations ?? 0) - (before?.operations ?? 0),
    connections,
    storeCpu: (after?.cpu ?? 0) - (before?.cpu ?? 0),
    nodeCpu,
  };
}

const lines: string[] = [];
const children: Child[] = [];
try {
  for (const target of targets) {
    const started = new Map<Mode, { child: Child; counters?: { read(): Promise<StoreCounters> } }>();
    for (const mode of MODES) {
      const child = await startChild("bench/waiters-server.ts", [target.url(mode), mode]);
      children.push(child);
      const counters = await target.counters?.(mode, child);
      if (counters) cleanups.push(() => counters.close());
      started.set(mode, counters ? { child, counters } : { child });
    }
    const samples = new Map<Mode, Sample[]>(MODES.map((mode) => [mode, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating which mode goes first, so that neither always runs on a warmer machine.
      const order = round % 2 === 1 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const { child, counters } = started.get(mode) as {
          child: Child;
          counters?: { read(): Promise<StoreCounters> };
        };
        const sample = await measure(child, counters);
        samples.get(mode)?.push(sample);
        console.log(
          `${target.name} ${mode} round ${round}: replays p50 ${sample.p50.toFixed(0)} ms, p99 ${sample.p99.toFixed(0)} ms after the original; ${sample.failed} failed ${sample.failures}; ${sample.operations} store operations; ${sample.connections} connections; store CPU ${(sample.storeCpu / 1000).toFixed(0)} ms, app CPU ${(sample.nodeCpu / 1000).toFixed(0)} ms`,
        );
      }
    }
    const of = (mode: Mode, pick: (sample: Sample) => number) => median((samples.get(mode) ?? []).map(pick));
    const operations = target.name === "Redis" ? "Redis commands sent" : "store transactions";
    lines.push(
      `### ${target.name}`,
      "",
      `| waiters | replay p50 ms | replay p99 ms | last replay ms | failed | ${target.counters ? `${operations} | connections (most) | store CPU ms |` : ""} app CPU ms |`,
      `| --- | ---: | ---: | ---: | ---: | ${target.counters ? "---: | ---: | ---: |" : ""} ---: |`,
      ...MODES.map(
        (mode) =>
          `| ${mode === "notify" ? "woken by the store" : "polling"} | ${of(mode, (s) => s.p50).toFixed(0)} | ${of(mode, (s) => s.p99).toFixed(0)} | ${of(mode, (s) => s.last).toFixed(0)} | ${of(mode, (s) => s.failed)} | ${target.counters ? `${of(mode, (s) => s.operations)} | ${of(mode, (s) => s.connections)} | ${(of(mode, (s) => s.storeCpu) / 1000).toFixed(0)} |` : ""} ${(of(mode, (s) => s.nodeCpu) / 1000).toFixed(0)} |`,
      ),
      "",
    );
    await Promise.all([...started.values()].map(({ child }) => child.stop("SIGKILL")));
  }
  const text = [
    `\`npm run bench:waiters\`: ${DUPLICATES} duplicates of one key, each on its own HTTP connection, sent 50 ms after the original, wait (\`wait: 60_000\`) for it; its Express handler answers 1 s after all of them reached the app. Replay times count from the moment the original's answer arrived; "failed" are duplicates that got anything but the replay. Store operations, connections and CPU cover the whole run (the original's claim and completion included): Redis commands the store sent to a private redis-server (SET, EVALSHA, SUBSCRIBE…: a script counts once, not the commands it runs inside Redis), counted in the app server from ioredis' \`tracing:ioredis:command\` diagnostics channel; PostgreSQL transactions from \`pg_stat_database\` (each store statement is one), connections from \`pg_stat_activity\` (the pool's 10 and, when woken by the store, its listening connection), CPU of the backends from /proc; SQLite runs inside the app server. Polling is what stores without \`waitForChange\` get (pauses of 20 ms doubling to 250 ms). Medians of ${ROUNDS} rounds, the two modes alternating. Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; the machine (2 cores) was shared with other work and noisy.`,
    "",
    ...lines,
  ].join("\n");
  console.log(`\n${text}`);
  writeBenchmarkSection("waiters", text.trimEnd());
} finally {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  agent.destroy();
}
