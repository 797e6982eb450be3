/**
 * The SQLite schema. Table names carry an `oncely_` prefix because the store may be
 * handed a database that also holds the application's own tables.
 *
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";

/**
 * Creates the tables and indexes if they do not exist yet; safe to run on every open,
 * from several processes at once.
 *
 * `oncely_records` holds one row per `(scope, key)`. In-flight rows fill `token` and
 * `lease_expires_at`; completed rows fill `completed_at`, `expires_at` and the response
 * columns (`headers` is a JSON array of `[name, value]` pairs, `body_omitted` is 0 or 1).
 * `first_chunk` holds the body of a completion whose body is exactly one chunk, the
 * common case, so that completing and replaying it touch this row alone; it is NULL
 * otherwise. It comes last because databases made before it existed gain it with
 * `ALTER TABLE … ADD COLUMN` (see {@link addMissingColumns}), which appends.
 * The two partial indexes serve the purge, which looks for lapsed leases and expired
 * completions separately.
 *
 * `oncely_chunks` holds the chunks of bodies of several chunks, numbered from 0 by `idx`
 * (and chunk 0 of single-chunk bodies completed before `first_chunk` existed). Readers take
 * only chunks below the record's `chunk_count`, and chunk 0 only when `first_chunk` is
 * NULL, so chunks a lease appended and its completion left unused are never replayed. It
 * is an ordinary rowid table with a unique index rather than a WITHOUT ROWID table,
 * because SQLite stores large values best in rowid tables (WITHOUT ROWID suits small rows).
 */
export const CREATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS oncely_records (
  scope            TEXT    NOT NULL,
  key              TEXT    NOT NULL,
  state            TEXT    NOT NULL,
  fingerprint      TEXT    NOT NULL,
  token            TEXT,
  created_at       INTEGER NOT NULL,
  lease_expires_at INTEGER,
  completed_at     INTEGER,
  expires_at       INTEGER,
  status           INTEGER,
  headers          TEXT,
  body_length      INTEGER,
  chunk_count      INTEGER,
  body_omitted     INTEGER,
  first_chunk      BLOB,
  PRIMARY KEY (scope, key)
);

CREATE INDEX IF NOT EXISTS oncely_records_lapsed_leases
  ON oncely_records (lease_expires_at) WHERE state = 'in_flight';

CREATE INDEX IF NOT EXISTS oncely_records_expired_completions
  ON oncely_records (expires_at) WHERE state = 'completed';

CREATE TABLE IF NOT EXISTS oncely_chunks (
  scope TEXT    NOT NULL,
  key   TEXT    NOT NULL,
  idx   INTEGER NOT NULL,
  data  BLOB    NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS oncely_chunks_by_record
  ON oncely_chunks (scope, key, idx);
`;

/** Columns added to `oncely_records` after its first release, each with its definition. */
const ADDED_COLUMNS = [["first_chunk", "BLOB"]] as const;

/**
 * Adds to a database made by an earlier version the columns {@link CREATE_SCHEMA} has and
 * it lacks; run after it on every open. Adding a nullable column only rewrites the schema,
 * not the rows: old rows read NULL, which the statements take for "not stored here".
 * A process opening the file at the same moment may add the column first; the failed
 * `ALTER` is then forgiven when the column is found afterwards, rather than by matching
 * SQLite's message.
 */
export function addMissingColumns(db: BetterSqlite3.Database): void {
  const present = (): Set<string> =>
    new Set((db.pragma("table_info(oncely_records)") as Array<{ name: string }>).map(({ name }) => name));
  const columns = present();
  for (const [name, definition] of ADDED_COLUMNS) {
    if (columns.has(name)) continue;
    try {
      db.exec(`ALTER TABLE oncely_records ADD COLUMN ${name} ${definition}`);
    } catch (error) {
      if (!present().has(name)) throw error;
    }
  }
}
