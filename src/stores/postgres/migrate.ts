/**
 * The PostgreSQL schema and {@link migrate}, which creates it.
 *
 * @module
 */
import { DEFAULT_TABLE, objectNames, withNames } from "./names.js";
import type { PostgresPool } from "./pool.js";
import { LATEST_BODY } from "./sql.js";

/**
 * Every migration of every oncely store takes this transaction-level advisory lock
 * first ("oncely" in ASCII): two processes creating the same table at once would
 * otherwise race in the catalog, and one would fail with a unique violation.
 */
const MIGRATION_LOCK = 122_519_904_676_985n;

/**
 * Creates the store's tables, indexes and function when they are missing. It is one
 * multi-statement query, which PostgreSQL runs as one transaction, so the advisory lock
 * taken by its first statement holds until all of it is committed.
 *
 * `<table>_records` holds one row per `(scope, key)`. In-flight rows fill `token` and
 * `lease_expires_at`; completed rows fill `completed_at`, `expires_at` and the response
 * columns (`headers` is a JSON array of `[name, value]` pairs). Times are epoch
 * milliseconds. The two partial indexes serve the purge, which looks for lapsed leases
 * and expired completions.
 *
 * `<table>_chunks` holds the body chunks, numbered from 0 by `idx`; deleting a record
 * deletes its chunks through the foreign key.
 *
 * `<table>_latest(scope, key)` reads a record and its chunk 0 with a snapshot of its own,
 * for the claim statement (see `CLAIM`). It is created only when missing, so a role that
 * does not own it can still run the migration.
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
  PRIMARY KEY (scope, key)
);

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

DO $migrate$
BEGIN
  IF to_regprocedure('{latest}(text, text)') IS NULL THEN
    CREATE FUNCTION {latest}(p_scope text, p_key text)
      RETURNS TABLE (state text, fingerprint text, token text, created_at bigint,
                     lease_expires_at bigint, completed_at bigint, expires_at bigint,
                     status integer, headers text, body_length bigint, chunk_count integer,
                     body_omitted boolean, first_chunk bytea)
      LANGUAGE sql VOLATILE
      AS $latest$${LATEST_BODY}$latest$;
  END IF;
END
$migrate$;`;

/**
 * Creates the tables, indexes and function of a PostgreSQL store when they are missing.
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
 * @throws {InvalidOptionError} when `table` or `schema` is not a plain identifier
 * @example
 * import pg from "pg";
 * await migrate(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 */
export async function migrate(
  pool: PostgresPool,
  { table = DEFAULT_TABLE, schema }: { table?: string; schema?: string } = {},
): Promise<void> {
  // Without parameters, pg sends the text as a simple query, which may hold several statements.
  await pool.query(withNames(MIGRATION, objectNames(table, schema)));
}
