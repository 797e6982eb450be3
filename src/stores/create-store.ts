import { InvalidStoreUrlError } from "../core/errors.js";
import type { IdempotencyStore } from "../store.js";
import { redactUrl } from "./redact-url.js";

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
 */
export async function createStore(url: string): Promise<IdempotencyStore> {
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
