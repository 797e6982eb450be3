/**
 * The PostgreSQL store: records shared by every process that reaches one database. It
 * needs the optional package `pg`, which is loaded only when the store creates its own
 * pool.
 *
 * Every operation is a single SQL statement but a claim, which is one or two: the read or
 * the insert first, as the previous claim suggests, then the other or a takeover (see
 * `./sql.ts`); a run of replays is one read each, and one more for a body longer than one
 * chunk. Each goes as a named prepared statement; with `preparedStatements: false` the store keeps no session state at all, so
 * it also works through PgBouncer in transaction mode.
 *
 * @module
 */
import { InvalidOptionError } from "../../core/errors.js";
import { renamedOption } from "../../core/renamed-option.js";
import { createOwnedPool, listenOn, type PostgresPool } from "./pool.js";
import { PostgresStore, type PostgresStoreCommonOptions } from "./store.js";
import { parsePostgresUrl } from "./url.js";

export { migrate } from "./migrate.js";
export type { PostgresPool, PostgresQueryResult } from "./pool.js";
export { PostgresStore, type PostgresStoreCommonOptions, type PostgresStoreSettings } from "./store.js";

/** Options of {@link createPostgresStore} when the store creates (and closes) its own pool. */
export interface PostgresUrlOptions extends PostgresStoreCommonOptions {
  /**
   * A connection URL, `postgres://user:password@host:port/database`, with any parameter
   * pg understands (`sslmode`, `application_name`, …). `table` and `schema` parameters
   * are read as the options of the same names, which take precedence.
   */
  url: string;
  /**
   * The most connections the pool opens.
   * @default 10
   */
  maxConnections?: number;
  /**
   * How long a call may wait to open a connection, or for a free one when all are busy,
   * before it fails with a `StoreUnavailableError`.
   * @default 2_000
   */
  connectTimeout?: number;
  /** @deprecated use `connectTimeout` (same value, in milliseconds) */
  connectTimeoutMs?: number;
  /**
   * How long a call may wait for the server's answer before it fails with a
   * `StoreUnavailableError` (the connection is then discarded). Measured by the client,
   * so it also ends calls to a server that stopped answering altogether.
   * @default 2_000
   */
  queryTimeout?: number;
  /** @deprecated use `queryTimeout` (same value, in milliseconds) */
  queryTimeoutMs?: number;
  /**
   * Whether each commit waits for its write-ahead log record to reach the disk. `false`
   * sets `synchronous_commit = off` for the pool's connections (as a startup parameter,
   * which PgBouncer rejects unless listed in its `ignore_startup_parameters`), so a new
   * key costs no disk flush. **The risk:** a crash of the database server (not of the
   * application) can lose the last commits, up to three times `wal_writer_delay` (600 ms
   * by default): a completed response the client already received may be gone, and its
   * retry executes again; the database itself stays consistent.
   * @default true
   */
  synchronousCommit?: boolean;
  /**
   * Whether duplicates that `wait` for an in-flight key are woken by LISTEN/NOTIFY: the
   * store opens one connection outside the pool, on the first wait, and LISTENs on it for
   * all its waiters. Turn it off behind PgBouncer in transaction mode, where LISTEN does
   * not work (notifications do not reach the client); waiters then poll, one claim per
   * waiter every 20 to 250 ms, each taking a pool connection for a round trip.
   * @default true
   */
  notifications?: boolean;
}

/** Options of {@link createPostgresStore} when the application already has a pool. */
export interface PostgresPoolOptions extends PostgresStoreCommonOptions {
  /**
   * A `pg.Pool`, or anything with its `query(text, values)` method. `close()` leaves it
   * open. Duplicates that `wait` poll through it: the store opens no connection of its
   * own to LISTEN on. Configure timeouts on it (`connectionTimeoutMillis`, `query_timeout`) so that
   * calls fail fast while the server is down, and listen for its `error` event.
   */
  pool: PostgresPool;
}

/** Options of {@link createPostgresStore}. */
export type PostgresStoreOptions = PostgresUrlOptions | PostgresPoolOptions;

/**
 * Creates a PostgreSQL store, on a pool it creates (and ends on `close()`) from a URL,
 * or on a pool the application already has. Nothing is sent to the server until the
 * first call, which also creates the tables when they are missing.
 *
 * @param [options.url] connection URL; the store creates a pool from it
 * @param [options.maxConnections=10] the most connections of that pool
 * @param [options.connectTimeout=2000] how long a call waits for a connection
 * @param [options.queryTimeout=2000] how long a call waits for the server's answer
 * @param [options.synchronousCommit=true] `false` trades the last commits before a database crash for speed
 * @param [options.notifications=true] wake waiting duplicates by LISTEN/NOTIFY; turn off behind PgBouncer's transaction mode
 * @param [options.pool] a `pg.Pool` (or compatible) to use instead of `url`
 * @param [options.table="oncely"] prefix of the store's table names
 * @param [options.schema] schema of the store's tables
 * @param [options.migrate=true] whether to create missing tables on first use
 * @param [options.purgeInterval=60000] how often expired records are swept; `0` turns the sweep off
 * @param [options.preparedStatements=true] send named prepared statements; turn off for PgBouncer's transaction mode
 * @param [options.unlogged=false] create missing tables UNLOGGED, which a database crash empties
 * @throws {MissingDependencyError} when the store must create a pool and `pg` is not installed
 * @throws {InvalidStoreUrlError} when `url` is malformed
 * @throws {InvalidOptionError} for any other invalid option, or one given under both its names
 * @example
 * const store = await createPostgresStore({ url: process.env.DATABASE_URL ?? "postgres://localhost/app" });
 * @example
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });
 * const store = await createPostgresStore({ pool, table: "idempotency" });
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { table, schema, migrate, purgeInterval, purgeIntervalMs, preparedStatements, unlogged } = options;
  const common = { migrate, purgeInterval, purgeIntervalMs, preparedStatements, unlogged };
  if ("pool" in options) return new PostgresStore(options.pool, { table, schema, ...common });
  const { url, maxConnections = 10, synchronousCommit = true, notifications = true } = options;
  const connectTimeout = renamedOption(options, "connectTimeout", "connectTimeoutMs") ?? 2_000;
  const queryTimeout = renamedOption(options, "queryTimeout", "queryTimeoutMs") ?? 2_000;
  const target = parsePostgresUrl(url);
  for (const [name, value] of Object.entries({ maxConnections, connectTimeout, queryTimeout })) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`);
    }
  }
  const { connectionString } = target;
  const pool = await createOwnedPool({
    connectionString,
    maxConnections,
    connectTimeout,
    queryTimeout,
    synchronousCommit,
  });
  try {
    return new PostgresStore(pool, {
      table: table ?? target.table,
      schema: schema ?? target.schema,
      ...common,
      endPool: () => pool.end(),
      listen: notifications
        ? (channel, events) => listenOn({ connectionString, connectTimeout }, channel, events)
        : undefined,
    });
  } catch (error) {
    // A new pool has no connection yet, so ending it is immediate.
    await pool.end();
    throw error;
  }
}

/**
 * Creates a PostgreSQL store from `postgres://…` or `postgresql://…`. The `table` and
 * `schema` query parameters set the options of the same names; every other parameter
 * goes to pg.
 *
 * @example
 * const store = await postgresStoreFromUrl("postgres://app@db.internal:5432/app?schema=oncely");
 * @throws {InvalidStoreUrlError} when the URL is malformed (the message never shows the password)
 * @throws {MissingDependencyError} when `pg` is not installed
 */
export async function postgresStoreFromUrl(url: string): Promise<PostgresStore> {
  return createPostgresStore({ url });
}
