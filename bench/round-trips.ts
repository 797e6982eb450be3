// Counts store round trips per request phase from the servers' own statistics, for the
// Redis and PostgreSQL stores: sequential requests through a guarded server, counters read
// before and after. Used by bench/http.ts.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";

const REQUESTS = 200;

/** Round trips per request, by phase. */
export interface RoundTrips {
  store: string;
  /** A new key: claim, then complete. */
  execute: number;
  /** A stored key: one claim that returns the record. */
  replay: number;
}

interface Counter {
  read(): Promise<number>;
  /** How long the server may take to count what it did. */
  readonly settleMs: number;
  close(): Promise<void>;
}

/**
 * Commands that clients sent, as Redis's MONITOR shows them: a claim is a native `SET`, the
 * rest are scripts, and the commands a script runs (source "lua") are not round trips.
 */
async function redisCounter(url: string): Promise<Counter> {
  const client = new Redis(url);
  const monitor = await client.monitor();
  let sent = 0;
  monitor.on("monitor", (_time: string, _args: string[], source: string) => {
    if (source !== "lua") sent++;
  });
  return {
    settleMs: 200,
    read: async () => sent,
    close: async () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

/** Committed transactions in the database (every store statement runs as its own transaction). */
async function postgresCounter(url: string): Promise<Counter> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    // A backend publishes its counts when idle, at the latest 10 s later (PostgreSQL 15+).
    settleMs: 11_000,
    read: async () => {
      const result = await client.query<{ commits: string }>(
        "SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = current_database()",
      );
      return Number(result.rows[0]?.commits ?? 0);
    },
    close: () => client.end(),
  };
}

/** Measures the stores whose URLs are given and that have a guarded server in `guarded` (store name → URL). */
export async function countRoundTrips(options: {
  redisUrl: string | undefined;
  postgresUrl: string | undefined;
  guarded: ReadonlyMap<string, string>;
  send(url: string, key: string): Promise<void>;
  newKey(): string;
}): Promise<RoundTrips[]> {
  const targets: Array<{ store: string; counter: () => Promise<Counter> }> = [];
  if (options.redisUrl)
    targets.push({ store: "Redis", counter: () => redisCounter(options.redisUrl as string) });
  if (options.postgresUrl) {
    targets.push({ store: "PostgreSQL", counter: () => postgresCounter(options.postgresUrl as string) });
  }
  const results: RoundTrips[] = [];
  for (const target of targets) {
    const url = options.guarded.get(target.store);
    if (!url) continue;
    const counter = await target.counter();
    try {
      const phase = async (keyFor: (i: number) => string) => {
        await sleep(counter.settleMs);
        const before = await counter.read();
        for (let i = 0; i < REQUESTS; i++) await options.send(url, keyFor(i));
        await sleep(counter.settleMs);
        return ((await counter.read()) - before) / REQUESTS;
      };
      const execute = await phase(() => options.newKey());
      const stored = options.newKey();
      await options.send(url, stored);
      const replay = await phase(() => stored);
      results.push({ store: target.store, execute, replay });
    } finally {
      await counter.close();
    }
  }
  return results;
}
