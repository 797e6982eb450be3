import type { Cluster, Redis, RedisOptions } from "ioredis";
import { StoreUnavailableError, UnsupportedServerError } from "../../core/errors.js";
import { importOptional } from "../../core/optional-dependency.js";
import type { RedisTarget } from "./url.js";

/** An ioredis client that the store created and therefore closes. */
export type OwnedClient = Redis | Cluster;

/**
 * Connects to the deployment a store URL names, with settings that make every command
 * fail fast while Redis is unreachable rather than wait for it:
 * - no offline queue: a command issued while disconnected is rejected at once (a
 *   queued claim could otherwise run minutes later, after its caller gave up);
 * - `maxRetriesPerRequest: 0` and no resending: a command cut off by a dropped
 *   connection is rejected, not replayed on the next connection;
 * - `timeout` bounds connecting and every command.
 *
 * ioredis keeps reconnecting in the background, so the store recovers by itself.
 *
 * @throws {MissingDependencyError} when ioredis is not installed.
 * @throws {StoreUnavailableError} when the first connection fails.
 * @throws {UnsupportedServerError} when the server is older than Redis 7.0.
 */
export async function connectRedis(target: RedisTarget, timeout: number): Promise<OwnedClient> {
  const ioredis = await loadIoredis();
  const options: RedisOptions = {
    connectTimeout: timeout,
    commandTimeout: timeout,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    ...(target.username !== undefined && { username: target.username }),
    ...(target.password !== undefined && { password: target.password }),
    ...(target.tls && { tls: {} }),
  };
  const client: OwnedClient =
    target.mode === "cluster"
      ? new ioredis.Cluster([...target.nodes], {
          lazyConnect: true,
          enableOfflineQueue: false,
          // Per-node connections keep ioredis' own offline queue: a node connection
          // that is still opening must accept its first command.
          redisOptions: options,
        })
      : new ioredis.Redis({
          ...options,
          ...target.nodes[0],
          db: target.db,
          lazyConnect: true,
          enableOfflineQueue: false,
        });
  // Errors reach the callers of each operation; without a listener ioredis would also
  // print every reconnection failure during an outage.
  let lastError: unknown;
  client.on("error", (error: unknown) => {
    lastError = error;
  });
  const where = target.nodes.map(({ host, port }) => `${host}:${port}`).join(",");
  try {
    await client.connect();
    if (client instanceof ioredis.Cluster) await connectMasters(client);
  } catch (error) {
    client.disconnect();
    throw new StoreUnavailableError(`cannot connect to Redis at ${where}`, { cause: lastError ?? error });
  }
  // A user whose ACL forbids INFO skips the check: an old server then fails its first claim.
  const info = await client.info("server").catch(() => "");
  try {
    checkServerVersion(info, where);
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** The oldest Redis whose `SET` takes both `NX` and `GET`, which every claim sends. */
const OLDEST_MAJOR = 7;

/**
 * Refuses a server older than Redis 7.0 at connection time, where its claims would
 * otherwise fail one by one with a syntax error. Valkey reports the Redis version it is
 * compatible with.
 * @param info the reply of `INFO server`
 * @throws {UnsupportedServerError}
 */
export function checkServerVersion(info: string, where: string): void {
  const version = /^redis_version:(\S+)/m.exec(info)?.[1];
  const major = Number.parseInt(version ?? "", 10);
  if (version !== undefined && major < OLDEST_MAJOR) {
    throw new UnsupportedServerError(
      `Redis at ${where} is version ${version}; the Redis store needs 7.0 or later`,
      version,
    );
  }
}

/**
 * Opens the connection to every master at once. Without an offline queue the cluster
 * rejects a command for a node whose connection is still opening, so concurrent first
 * commands to one node would otherwise fail.
 */
async function connectMasters(cluster: Cluster): Promise<void> {
  await Promise.all(
    cluster.nodes("master").map((node) => (node.status === "wait" ? node.connect() : undefined)),
  );
}

function loadIoredis(): Promise<{ Redis: typeof Redis; Cluster: typeof Cluster }> {
  return importOptional("ioredis", "The Redis store", () => import("ioredis"));
}
