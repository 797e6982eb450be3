// Every store factory and option docs/stores.md documents, imported from the built package's subpaths.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchApp } from "../helpers/scratch-app.js";
import { serviceUrl } from "../helpers/services.js";

/** Runs `source` as an ES module of the scratch app and returns what it printed, parsed. */
function runInApp(name: string, source: string, env: Record<string, string> = {}): unknown {
  const app = scratchApp();
  writeFileSync(join(app, name), source);
  const output = execFileSync(process.execPath, [name], {
    cwd: app,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return JSON.parse(output);
}

/** The claim every check makes: its outcome proves the store works. */
const CLAIM = `{ scope: "s", key: crypto.randomUUID(), fingerprint: "f", token: "t", leaseMs: 60000 }`;

describe("store subpaths of the built package", () => {
  it("oncely/memory and oncely/sqlite take their documented options and an open database", () => {
    const result = runInApp(
      "embedded.mjs",
      `
import Database from "better-sqlite3";
import { createMemoryStore, MemoryStore } from "oncely/memory";
import { createSqliteStore, SqliteStore } from "oncely/sqlite";

const memory = createMemoryStore({ purgeInterval: 0 });
const file = await createSqliteStore({ path: ".oncely/exports.db", busyTimeout: 100, purgeInterval: 0 });
const database = new Database(":memory:");
const mine = await createSqliteStore({ database, purgeInterval: 1000 });
const outcomes = [];
for (const store of [memory, file, mine]) outcomes.push((await store.claim(${CLAIM})).outcome);
for (const store of [memory, file, mine]) await store.close();
console.log(JSON.stringify({
  outcomes,
  classes: [memory instanceof MemoryStore, file instanceof SqliteStore],
  databaseStillOpen: database.open,
}));
`,
    );
    expect(result).toEqual({
      outcomes: ["acquired", "acquired", "acquired"],
      classes: [true, true],
      databaseStillOpen: true,
    });
  }, 240_000);

  const redisUrl = serviceUrl("ONCELY_TEST_REDIS_URL", "oncely/redis from the built package");
  // Registered only with a server; serviceUrl has registered, in its place, a suite that says why not.
  if (redisUrl)
    it("oncely/redis takes a client the app already has, or a URL with timeout", () => {
      const result = runInApp(
        "redis.mjs",
        `
import { Redis } from "ioredis";
import { createRedisStore, RedisStore } from "oncely/redis";

const client = new Redis(process.env.URL);
const mine = await createRedisStore({ client, prefix: "oncely-exports:", leaseGrace: 60000 });
const own = await createRedisStore({ url: process.env.URL, timeout: 1000, prefix: "oncely-exports:" });
const outcomes = [(await mine.claim(${CLAIM})).outcome, (await own.claim(${CLAIM})).outcome];
await mine.close();
await own.close();
const stillOpen = (await client.ping()) === "PONG";
await client.quit();
console.log(JSON.stringify({ outcomes, isStore: mine instanceof RedisStore, stillOpen }));
`,
        { URL: redisUrl },
      );
      expect(result).toEqual({ outcomes: ["acquired", "acquired"], isStore: true, stillOpen: true });
    }, 240_000);

  const postgresUrl = serviceUrl("ONCELY_TEST_POSTGRES_URL", "oncely/postgres from the built package");
  if (postgresUrl)
    it("oncely/postgres takes a pool the app already has, migrate: false, and URL options", () => {
      const result = runInApp(
        "postgres.mjs",
        `
import pg from "pg";
import { createPostgresStore, migrate, PostgresStore } from "oncely/postgres";

const pool = new pg.Pool({ connectionString: process.env.URL });
const table = "exports_" + Date.now();
// migrate: false creates nothing, so the first call finds no table.
const unmigrated = await createPostgresStore({ pool, table, migrate: false, purgeInterval: 0 });
const withoutTables = await unmigrated.claim(${CLAIM}).then(() => "acquired", () => "failed");
const mine = await createPostgresStore({ pool, table, purgeInterval: 0 });
const own = await createPostgresStore({
  url: process.env.URL + "?table=" + table,
  maxConnections: 2,
  connectTimeout: 1000,
  queryTimeout: 1000,
});
const outcomes = [(await mine.claim(${CLAIM})).outcome, (await own.claim(${CLAIM})).outcome];
for (const store of [unmigrated, mine, own]) await store.close();
const stillOpen = (await pool.query("SELECT 1 AS one")).rows[0].one === 1;
for (const suffix of ["records", "chunks"]) await pool.query("DROP TABLE IF EXISTS " + table + "_" + suffix + " CASCADE");
await pool.query("DROP FUNCTION IF EXISTS " + table + "_latest");
await pool.end();
console.log(JSON.stringify({ withoutTables, outcomes, isStore: mine instanceof PostgresStore, migrate: typeof migrate, stillOpen }));
`,
        { URL: postgresUrl },
      );
      expect(result).toEqual({
        withoutTables: "failed",
        outcomes: ["acquired", "acquired"],
        isStore: true,
        migrate: "function",
        stillOpen: true,
      });
    }, 240_000);
});
