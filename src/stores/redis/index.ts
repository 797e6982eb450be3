/**
 * The Redis store: records live in Redis or Valkey (7.0 or later), standalone or Cluster,
 * and every operation is one atomic round trip: a native `SET … NX GET` for a claim, a Lua
 * script for the rest.
 *
 * @module
 */
import { InvalidOptionError } from "../../core/errors.js";
import { renamedOption } from "../../core/renamed-option.js";
import type { IdempotencyStore } from "../../store.js";
import { connectRedis } from "./connection.js";
import { type RedisClient, RedisStore, type RedisStoreOptions, resolveStoreOptions } from "./store.js";
import { parseRedisUrl } from "./url.js";

export { type RedisClient, RedisStore, type RedisStoreOptions } from "./store.js";

/** Options of {@link createRedisStore}: a URL to connect to, or a client you manage. */
export type CreateRedisStoreOptions =
  | (RedisStoreOptions & {
      /**
       * `redis://[user:password@]host[:port][/db]`, the same with `rediss://` for TLS, or
       * `redis-cluster://[user:password@]host:port,host:port,…`. A `prefix` query
       * parameter sets the key prefix unless the `prefix` option is given.
       */
      readonly url: string;
      /**
       * Bound on connecting and on every command: while Redis is unreachable, calls
       * fail with `StoreUnavailableError` within this time instead of waiting.
       * @default 2000
       */
      readonly timeout?: number;
      /** @deprecated use `timeout` (same value, in milliseconds) */
      readonly timeoutMs?: number;
    })
  | (RedisStoreOptions & {
      /**
       * An ioredis `Redis` or `Cluster` instance. Its own settings decide how calls
       * behave during an outage (consider `enableOfflineQueue: false`,
       * `maxRetriesPerRequest: 0` and a `commandTimeout`), and `close()` leaves it open.
       */
      readonly client: RedisClient;
    });

/**
 * Creates a Redis store. Given a URL, it connects first, and its `close()` closes that
 * connection; ioredis reconnects by itself after an outage.
 *
 * @throws {InvalidStoreUrlError} when the URL is malformed.
 * @throws {MissingDependencyError} when `ioredis` is not installed.
 * @throws {StoreUnavailableError} when Redis cannot be reached within `timeout`.
 * @throws {UnsupportedServerError} when the server is older than Redis 7.0.
 * @throws {InvalidOptionError} for an invalid option, or one given under both its names.
 *
 * @example
 * const store = await createRedisStore({ url: "redis://127.0.0.1:6379", prefix: "shop:" });
 * @example
 * const store = await createRedisStore({ client: new Redis({ enableOfflineQueue: false }) });
 */
export async function createRedisStore(options: CreateRedisStoreOptions): Promise<RedisStore> {
  if ("client" in options) return new RedisStore(options.client, options);
  const timeout = renamedOption(options, "timeout", "timeoutMs") ?? 2000;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidOptionError(`Redis store timeout must be a positive number, got ${timeout}`);
  }
  const target = parseRedisUrl(options.url);
  const prefix = options.prefix ?? target.prefix;
  const settings = resolveStoreOptions({ ...options, ...(prefix !== undefined && { prefix }) });
  const client = await connectRedis(target, timeout);
  return new RedisStore(client, settings, async () => {
    // quit() waits for pending replies, but fails when the connection is down.
    await client.quit().catch(() => client.disconnect());
  });
}

/** The `createStore` entry point for `redis://`, `rediss://` and `redis-cluster://` URLs. */
export function redisStoreFromUrl(url: string): Promise<IdempotencyStore> {
  return createRedisStore({ url });
}
