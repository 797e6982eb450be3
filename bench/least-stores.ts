// The least layer's records on each durable store (see bench/least-layer.ts): the fewest
// statements any correct idempotency layer must issue there. A replay is one read that
// returns the stored answer; a new key is one claim and one completion. Each is the
// cheapest form the store offers: a prepared statement on SQLite, one plain command on
// Redis (no script), one named (prepared) statement on PostgreSQL, on a pool of the size
// oncely's store uses by default. No fencing, no expiry checks, no chunks: what is left
// is what the store itself costs.
import BetterSqlite3 from "better-sqlite3";
import { Redis } from "ioredis";
import pg from "pg";
import type { LeastClaim, LeastRecords } from "./least-layer.js";

const LEASE_MS = 60_000;
const TTL_MS = 24 * 3_600_000;

/** The least records for a store URL (sqlite:PATH, redis://…, postgres://…). */
export async function storeRecords(url: string): Promise<LeastRecords> {
  if (url.startsWith("sqlite:")) return sqliteRecords(url.slice("sqlite:".length));
  if (url.startsWith("redis:")) return redisRecords(url);
  if (url.startsWith("postgres:") || url.startsWith("postgresql:")) return postgresRecords(url);
  throw new Error(`no least layer for ${url}`);
}

/**
 * SQLite, tuned as oncely's store is (WAL, synchronous = NORMAL): a replay is one read; a
 * new key adds one write transaction for the claim and one for the completion.
 */
function sqliteRecords(path: string): LeastRecords {
  const db = new BetterSqlite3(`${path}.least`, { timeout: 5_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("CREATE TABLE IF NOT EXISTS least_records (key TEXT PRIMARY KEY, answer BLOB) WITHOUT ROWID");
  const read = db.prepare<[string], Buffer | null>("SELECT answer FROM least_records WHERE key = ?").pluck();
  const claim = db.prepare<[string]>("INSERT OR IGNORE INTO least_records (key) VALUES (?)");
  const complete = db.prepare<[Buffer, string]>("UPDATE least_records SET answer = ? WHERE key = ?");
  return {
    claim: (key) => {
      const found = read.get(key);
      if (found !== undefined) return found ?? 0;
      return claim.run(key).changes === 1 ? undefined : 0;
    },
    complete: (key, answer) => {
      complete.run(answer, key);
    },
  };
}

/**
 * Redis: `SET key "" NX GET PX lease` claims a key or returns what it holds, in one command;
 * the completion is one `SET … PX ttl`.
 */
function redisRecords(url: string): LeastRecords {
  const client = new Redis(url);
  return {
    claim: async (key): Promise<LeastClaim> => {
      const found = (await client.callBuffer("SET", key, "", "NX", "GET", "PX", LEASE_MS)) as Buffer | null;
      if (found === null) return undefined;
      return found.length === 0 ? 0 : found;
    },
    complete: async (key, answer) => {
      await client.set(key, answer, "PX", TTL_MS);
    },
  };
}

/**
 * PostgreSQL, on a pool of 10 connections (oncely's default): a replay is one named read
 * of the stored answer, a new key one named statement that claims it and one that completes
 * it. Which comes first follows the previous claim, as in oncely's store: the read after a
 * replay, the claim after a new key; when the guess is wrong the other follows.
 */
async function postgresRecords(url: string): Promise<LeastRecords> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  await pool.query("CREATE TABLE IF NOT EXISTS least_records (key text PRIMARY KEY, answer bytea)");
  const insert = {
    name: "least_claim",
    text: `WITH inserted AS (INSERT INTO least_records (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1)
           SELECT EXISTS (SELECT FROM inserted) AS acquired,
                  (SELECT answer FROM least_records WHERE key = $1) AS answer`,
  };
  const read = { name: "least_read", text: "SELECT answer FROM least_records WHERE key = $1" };
  const complete = { name: "least_complete", text: "UPDATE least_records SET answer = $2 WHERE key = $1" };
  const claimByInsert = async (key: string): Promise<LeastClaim> => {
    const { rows } = await pool.query<{ acquired: boolean; answer: Buffer | null }>({
      ...insert,
      values: [key],
    });
    const row = rows[0];
    if (row?.acquired) return undefined;
    return row?.answer ?? 0;
  };
  let readFirst = false;
  return {
    claim: async (key): Promise<LeastClaim> => {
      if (readFirst) {
        const { rows } = await pool.query<{ answer: Buffer | null }>({ ...read, values: [key] });
        const row = rows[0];
        if (row) return row.answer ?? 0;
      }
      const found = await claimByInsert(key);
      readFirst = found !== undefined;
      return found;
    },
    complete: async (key, answer) => {
      await pool.query({ ...complete, values: [key, answer] });
    },
  };
}
