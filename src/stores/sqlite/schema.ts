/**
 * The SQLite schema. Table names carry an `oncely_` prefix because the store may be
 * handed a database that also holds the application's own tables.
 *
 * @module
 */

/**
 * Creates the tables and indexes if they do not exist yet; safe to run on every open,
 * from several processes at once.
 *
 * `oncely_records` holds one row per `(scope, key)`. In-flight rows fill `token` and
 * `lease_expires_at`; completed rows fill `completed_at`, `expires_at` and the response
 * columns (`headers` is a JSON array of `[name, value]` pairs, `body_omitted` is 0 or 1).
 * The two partial indexes serve the purge, which looks for lapsed leases and expired
 * completions separately.
 *
 * `oncely_chunks` holds the body chunks, numbered from 0 by `idx`. It is an ordinary
 * rowid table with a unique index rather than a WITHOUT ROWID table, because SQLite
 * stores large values best in rowid tables (WITHOUT ROWID suits small rows).
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
