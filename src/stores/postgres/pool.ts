/**
 * Connections of the PostgreSQL store: the minimal pool interface it needs, the pool it
 * creates from a URL, and the mapping of driver failures to `StoreUnavailableError`.
 *
 * @module
 */
import { StoreUnavailableError } from "../../core/errors.js";
import { importOptional } from "../../core/optional-dependency.js";

/** What the store reads of a query result. */
export interface PostgresQueryResult {
  readonly rows: readonly unknown[];
  readonly rowCount: number | null;
}

/** One statement as pg's `query` takes it; with a `name`, pg prepares it once per connection. */
export interface PostgresStatement {
  readonly name?: string;
  readonly text: string;
  readonly values?: unknown[];
}

/**
 * The part of a `pg.Pool` the store uses, so that an application can pass its own pool
 * (or a wrapper around one). `query` must run each call on whichever connection is free
 * and, when called with a text and no `values`, accept several statements in one text
 * (pg then uses the simple query protocol), which the migration needs. The store's
 * statements come as pg's query config objects (`{ name, text, values }`); without
 * `preparedStatements`, they carry no `name`.
 */
export interface PostgresPool {
  query(statement: string | PostgresStatement, values?: unknown[]): Promise<PostgresQueryResult>;
}

/** A pool the store created, and therefore ends when it closes. */
export interface OwnedPool extends PostgresPool {
  end(): Promise<void>;
}

/** Settings of a pool the store creates itself. */
export interface OwnedPoolSettings {
  readonly connectionString: string;
  /** False turns `synchronous_commit` off for the pool's connections (a startup parameter). */
  readonly synchronousCommit: boolean;
  readonly maxConnections: number;
  readonly connectTimeout: number;
  readonly queryTimeout: number;
}

/**
 * Creates a pg pool whose calls fail fast while the server is unreachable:
 * `connectTimeout` bounds both opening a connection and waiting for a free one, and
 * `queryTimeout` bounds each query on the client side. The timeout is the client's
 * (`query_timeout`), not the server's `statement_timeout`, because the latter travels as
 * a startup parameter, which PgBouncer rejects. A connection that failed or timed out is
 * discarded, and new ones are opened on demand, so the pool recovers by itself once the
 * server is back.
 *
 * @throws {MissingDependencyError} when pg is not installed
 */
export async function createOwnedPool(settings: OwnedPoolSettings): Promise<OwnedPool> {
  const pg = await loadPg();
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.maxConnections,
    connectionTimeoutMillis: settings.connectTimeout,
    query_timeout: settings.queryTimeout,
    keepAlive: true,
    ...(settings.synchronousCommit ? {} : { options: "-c synchronous_commit=off" }),
    // Idle connections must not keep the process alive after the application is done.
    allowExitOnIdle: true,
  });
  // An idle connection that breaks (server restart, proxy timeout) is reported here; pg
  // drops it from the pool, and without a listener the event would crash the process.
  pool.on("error", () => {});
  return pool;
}

/**
 * Runs one query, turning any failure of the driver or the server (unreachable, timed
 * out, refused, a missing table) into a {@link StoreUnavailableError} with the original
 * error as `cause`.
 */
export async function runQuery(
  pool: PostgresPool,
  statement: string | PostgresStatement,
): Promise<PostgresQueryResult> {
  try {
    return await pool.query(statement);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StoreUnavailableError(`PostgreSQL store: ${reason}`, { cause: error });
  }
}

type Pg = typeof import("pg")["default"];

async function loadPg(): Promise<Pg> {
  return (await importOptional("pg", "The PostgreSQL store", () => import("pg"))).default;
}
