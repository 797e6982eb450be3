import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll } from "vitest";
import type { InspectableStore } from "../../src/store.js";
import { type CreateStoreOptions, createStore } from "../../src/stores/create-store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { connectRedis, type OwnedClient } from "../../src/stores/redis/connection.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";
import { scanKeys } from "../stores/redis-support.js";
import { serviceUrl } from "./services.js";
import { temporaryDirectory } from "./stores.js";

/**
 * One place where records live, which tests open as often as they like (with or without
 * encryption) and whose stored bytes they can read directly, as someone with access to
 * the database would.
 */
export interface Backend {
  readonly name: string;
  /** The URL `oncely keys --store` would take (the memory backend has none). */
  readonly url: string | undefined;
  /** A new store over the same records. */
  open(options?: CreateStoreOptions): Promise<InspectableStore>;
  /** Every byte the backend holds for these records: files, rows, Redis values. */
  raw(): Promise<Buffer>;
  /**
   * The bytes of the live records only. Differs from {@link raw} for SQLite, whose file keeps
   * deleted rows in free pages and in its write-ahead log until they are reused.
   */
  rows(): Promise<Buffer>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The backends on a server, each named by the variable that holds its test URL. */
const servers = {
  redis: { variable: "ONCELY_TEST_REDIS_URL", backend: (url: string) => redisBackend("redis", url) },
  "redis-cluster": {
    variable: "ONCELY_TEST_REDIS_CLUSTER_URL",
    backend: (url: string) => redisBackend("redis-cluster", url.replace(/^redis:/, "redis-cluster:")),
  },
  postgres: { variable: "ONCELY_TEST_POSTGRES_URL", backend: postgresBackend },
} satisfies Record<string, { variable: string; backend: (url: string) => Backend }>;

export type ServerBackend = keyof typeof servers;

/**
 * Memory and SQLite always; those of `only` (Redis, Redis Cluster and PostgreSQL by default)
 * whose test URLs are set. With `subject`, each server whose URL is not set registers in its
 * place a suite named `subject ($name)` that says so: skipped, or failing under
 * ONCELY_REQUIRE_SERVICES=1 (see {@link serviceUrl}).
 */
export function backends({
  subject,
  only = ["redis", "redis-cluster", "postgres"],
}: {
  subject?: string;
  only?: readonly ServerBackend[];
} = {}): Backend[] {
  const list: Backend[] = [memoryBackend(), sqliteBackend()];
  for (const name of only) {
    const { variable, backend } = servers[name];
    const url = subject ? serviceUrl(variable, `${subject} (${name})`) : process.env[variable];
    if (url) list.push(backend(url));
  }
  return list;
}

/** A memory store shared by every `open()`; the bytes are what it keeps of each record. */
function memoryBackend(): Backend {
  const inner = createMemoryStore();
  cleanups.push(() => inner.close());
  // Closing one of the opened stores must not close the shared one.
  const shared: InspectableStore = new Proxy(inner, {
    get: (target, name) => {
      if (name === "close") return async () => {};
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    name: "memory",
    url: undefined,
    async open(options) {
      if (!options?.encryption) return shared;
      const { encryptStore } = await import("../../src/stores/encrypt-store.js");
      return (await encryptStore(shared, options.encryption)) as InspectableStore;
    },
    raw: () => memoryBytes(inner),
    rows: () => memoryBytes(inner),
  };
}

/** What the memory store keeps of each record: its headers and body chunks. */
async function memoryBytes(inner: InspectableStore): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const record of (await inner.list({ limit: 10_000 })).records) {
    if (record.state !== "completed") continue;
    parts.push(Buffer.from(JSON.stringify(record.response.headers)), Buffer.from(record.firstChunk));
    for (let index = 1; index < record.response.chunkCount; index++)
      parts.push(Buffer.from((await inner.readChunk(record, index)) ?? []));
  }
  return Buffer.concat(parts);
}

function sqliteBackend(): Backend {
  const path = join(temporaryDirectory(), "oncely.db");
  return {
    name: "sqlite",
    url: `sqlite:${path}`,
    open: (options) => createStore(`sqlite:${path}`, options) as Promise<InspectableStore>,
    // The database file and its write-ahead log, where fresh pages sit until a checkpoint.
    async raw() {
      return Buffer.concat(
        [path, `${path}-wal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
      );
    },
    async rows() {
      const db = new Database(path, { readonly: true });
      try {
        const parts: Buffer[] = [];
        for (const table of ["oncely_records", "oncely_chunks"])
          for (const row of db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>)
            for (const value of Object.values(row))
              parts.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
        return Buffer.concat(parts);
      } finally {
        db.close();
      }
    },
  };
}

function redisBackend(name: string, base: string): Backend {
  const prefix = `oncely-test:${randomUUID()}:`;
  const url = `${base}${base.includes("?") ? "&" : "?"}prefix=${encodeURIComponent(prefix)}`;
  let admin: Promise<OwnedClient> | undefined;
  const client = () => {
    admin ??= connectRedis(parseRedisUrl(base), 5_000);
    return admin;
  };
  // Whether or not a test read the bytes: stores opened by URL, in this process or another
  // (a gateway's), leave their keys behind.
  cleanups.push(async () => {
    const redis = await client();
    for (const key of await scanKeys(redis, `${prefix}*`)) await redis.del(key);
    await redis.quit();
  });
  return {
    name,
    url,
    open: (options) => createStore(url, options) as Promise<InspectableStore>,
    rows: () => raw(),
    raw: () => raw(),
  };

  /** Every field and value under the prefix. */
  async function raw(): Promise<Buffer> {
    const redis = await client();
    const parts: Buffer[] = [];
    for (const key of await scanKeys(redis, `${prefix}*`)) {
      const type = await redis.type(key);
      if (type === "hash") {
        for (const [field, value] of Object.entries(await redis.hgetallBuffer(key)))
          parts.push(Buffer.from(field), value);
      } else if (type === "string") {
        parts.push((await redis.getBuffer(key)) ?? Buffer.alloc(0));
      } else {
        throw new Error(`unexpected Redis type ${type} at ${key}`);
      }
    }
    return Buffer.concat(parts);
  }
}

function postgresBackend(base: string): Backend {
  const table = `oncely_test_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const url = `${base}${base.includes("?") ? "&" : "?"}table=${table}`;
  const pool = new pg.Pool({ connectionString: base, max: 1 });
  cleanups.push(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}_chunks", "${table}_records"`);
    await pool.end();
  });
  return {
    name: "postgres",
    url,
    open: (options) => createStore(url, options) as Promise<InspectableStore>,
    rows: () => raw(),
    raw: () => raw(),
  };

  /** Every value of every row of the store's two tables. */
  async function raw(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const suffix of ["records", "chunks"]) {
      const { rows } = await pool.query(`SELECT * FROM "${table}_${suffix}"`);
      for (const row of rows as Array<Record<string, unknown>>)
        for (const value of Object.values(row))
          parts.push(Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
    }
    return Buffer.concat(parts);
  }
}
