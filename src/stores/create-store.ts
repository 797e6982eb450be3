import { InvalidStoreUrlError } from "../core/errors.js";
import type { IdempotencyStore } from "../store.js";
import { type EncryptionOptions, encryptStore } from "./encrypt-store.js";
import { redactUrl } from "./redact-url.js";

/** Options of {@link createStore} that are not part of the URL. */
export interface CreateStoreOptions {
  /**
   * Encrypt stored responses' headers and body bytes at rest with AES-256-GCM under these
   * keys (see {@link encryptStore}). @default undefined (stored as sent)
   */
  readonly encryption?: EncryptionOptions;
}

/**
 * Builds a store from a URL. Drivers are loaded on demand, so only the chosen
 * store's optional dependency has to be installed.
 *
 * | URL | store |
 * | --- | --- |
 * | `memory:`, `memory:?maxEntries=N&maxBytes=N` | in-process memory (one process only), bounded |
 * | `sqlite:./path/to.db`, `sqlite:/abs/path.db` | SQLite file (the embedded default; several processes on one machine) |
 * | `redis://…`, `rediss://…` | Redis or Valkey |
 * | `redis-cluster://host:port,host:port` | Redis Cluster |
 * | `postgres://…`, `postgresql://…` | PostgreSQL |
 *
 * @example
 * const store = await createStore("sqlite:./.oncely/oncely.db");
 * @example
 * const store = await createStore("redis://127.0.0.1:6379", {
 *   encryption: { keys: [{ id: "2026-12", key: process.env.RECORD_KEY_2026_12! }] },
 * });
 */
export async function createStore(url: string, options: CreateStoreOptions = {}): Promise<IdempotencyStore> {
  const store = await storeOfUrl(url);
  if (options.encryption === undefined) return store;
  try {
    return await encryptStore(store, options.encryption);
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function storeOfUrl(url: string): Promise<IdempotencyStore> {
  if (typeof url !== "string" || url.trim() === "") {
    throw new InvalidStoreUrlError("store URL must be a non-empty string such as sqlite:./oncely.db");
  }
  const scheme = url.slice(0, url.indexOf(":") + 1).toLowerCase();
  switch (scheme) {
    case "memory:": {
      const { memoryStoreFromUrl } = await import("./memory/index.js");
      return memoryStoreFromUrl(url);
    }
    case "sqlite:": {
      const { sqliteStoreFromUrl } = await import("./sqlite/index.js");
      return sqliteStoreFromUrl(url);
    }
    case "redis:":
    case "rediss:":
    case "redis-cluster:": {
      const { redisStoreFromUrl } = await import("./redis/index.js");
      return redisStoreFromUrl(url);
    }
    case "postgres:":
    case "postgresql:": {
      const { postgresStoreFromUrl } = await import("./postgres/index.js");
      return postgresStoreFromUrl(url);
    }
    default:
      throw new InvalidStoreUrlError(
        `unknown store URL ${JSON.stringify(redactUrl(url))}: use memory:, sqlite:PATH, redis://, rediss://, redis-cluster:// or postgres://`,
      );
  }
}
