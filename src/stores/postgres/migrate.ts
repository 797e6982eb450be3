/**
 * The PostgreSQL schema and {@link migrate}, which creates it.
 *
 * @module
 */
import { DEFAULT_TABLE, type ObjectNames, objectNames, withNames } from "./names.js";
import type { PostgresPool } from "./pool.js";

/**
 * Every migration of every oncely store takes this transaction-level advisory lock
 * first ("oncely" in ASCII): two processes creating the same table at once would
 * otherwise race in the catalog, and one would fail with a unique violation.
 */
const MIGRATION_LOCK = 122_519_904_676_985n;

/**
 * Creates the store's tables and indexes when they are missing. It is one
 * multi-statement query, which PostgreSQL runs as one transaction, so the advisory lock
 * taken by its first statement holds until all of it is committed.
 *
 * `<table>_records` holds one row per `(scope, key)`. In-flight rows fill `token` and
 * `lease_expires_at`; completed rows fill `completed_at`, `expires_at` and the response
 * columns (`headers` is a JSON array of `[name, value]` pairs). Times are epoch
 * milliseconds. `watched` is set while some duplicate waits for the in-flight record, so
 * that completing or releasing it sends a notification (see `WATCH` in `./sql.ts`).
 * `first_chunk` holds the body of a completed record whose body is one chunk. The `DO`
 * block adds these two columns to tables created by earlier versions (adding a nullable
 * column, or one with a constant default, only changes the catalog), and only then:
 * `ALTER TABLE` would take the table's exclusive lock on every start, queueing all
 * traffic behind any long transaction. The two partial indexes serve the purge, which
 * looks for lapsed leases and expired completions.
 *
 * `<table>_chunks` holds the chunks of longer bodies, numbered from 0 by `idx` (and
 * every body of records written before `first_chunk` existed); deleting a record
 * deletes its chunks through the foreign key.
 *
 * {@link migrationSql} can make it create missing tables UNLOGGED.
 */
export const MIGRATION = `
SELECT pg_advisory_xact_lock(${MIGRATION_LOCK});

CREATE TABLE IF NOT EXISTS {records} (
  scope            text    NOT NULL,
  key              text    NOT NULL,
  state            text    NOT NULL,
  fingerprint      text    NOT NULL,
  token            text,
  created_at       bigint  NOT NULL,
  lease_expires_at bigint,
  completed_at     bigint,
  expires_at       bigint,
  status           integer,
  headers          text,
  body_length      bigint,
  chunk_count      integer,
  body_omitted     boolean,
  watched          boolean NOT NULL DEFAULT false,
  first_chunk      bytea,
  PRIMARY KEY (scope, key)
);

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute
                  WHERE attrelid = '{records}'::regclass AND attname = 'watched' AND NOT attisdropped) THEN
    ALTER TABLE {records} ADD COLUMN watched boolean NOT NULL DEFAULT false;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_attribute
                  WHERE attrelid = '{records}'::regclass AND attname = 'first_chunk' AND NOT attisdropped) THEN
    ALTER TABLE {records} ADD COLUMN first_chunk bytea;
  END IF;
END $$;

CREATE INDEX IF NOT EXISTS {lapsedIndex} ON {records} (lease_expires_at) WHERE state = 'in_flight';

CREATE INDEX IF NOT EXISTS {expiredIndex} ON {records} (expires_at) WHERE state = 'completed';

CREATE TABLE IF NOT EXISTS {chunks} (
  scope text    NOT NULL,
  key   text    NOT NULL,
  idx   integer NOT NULL,
  data  bytea   NOT NULL,
  PRIMARY KEY (scope, key, idx),
  FOREIGN KEY (scope, key) REFERENCES {records} (scope, key) ON DELETE CASCADE
);
`;

/** The migration for a store's objects; `unlogged` creates missing tables UNLOGGED. */
export function migrationSql(names: ObjectNames, unlogged: boolean): string {
  const sql = withNames(MIGRATION, names);
  return unlogged ? sql.replaceAll("CREATE TABLE", "CREATE UNLOGGED TABLE") : sql;
}

/**
 * Creates the tables and indexes of a PostgreSQL store when they are missing.
 * Safe to run on every start, from several processes at once. A store runs it by itself
 * on first use unless created with `migrate: false`; call it yourself to set the schema
 * up at deploy time, for instance with a role that may create tables when the
 * application's role may not.
 *
 * The schema named by `schema` must exist already.
 *
 * @param pool where to run it; a `pg.Pool` or anything with the same `query` method
 * @param [options.table="oncely"] prefix of the object names, as given to the store
 * @param [options.schema] schema of the objects, as given to the store
 * @param [options.unlogged=false] create missing tables UNLOGGED (see the store's `unlogged` option)
 * @throws {InvalidOptionError} when `table` or `schema` is not a plain identifier
 * @example
 * import pg from "pg";
 * await migrate(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 */
export async function migrate(
  pool: PostgresPool,
  {
    table = DEFAULT_TABLE,
    schema,
    unlogged = false,
  }: { table?: string; schema?: string; unlogged?: boolean } = {},
): Promise<void> {
  // Without parameters, pg sends the text as a simple query, which may hold several statements.
  await pool.query(migrationSql(objectNames(table, schema), unlogged));
}
