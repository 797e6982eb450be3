/**
 * The SQL of the PostgreSQL store, one documented constant per statement.
 *
 * Every statement commits on its own (no transaction spans two round trips). Every
 * operation is one statement, except a claim, which is one or two (`CLAIM_FREE`, `READ`
 * and `TAKE_OVER`; the store says in which order), and a read of a record whose body chunk
 * 0 is in the chunks table, which adds `READ_WITH_CHUNK`. The store sends them as named
 * prepared statements, parsed and planned once per connection, unless
 * `preparedStatements: false` (for PgBouncer's transaction mode before 1.21, which cannot
 * keep a prepared statement for its client): the statements need no other session state,
 * no temporary tables or `SET`.
 *
 * Object names are placeholders (`{records}`, `{chunks}`) that
 * `withNames` fills in once per store. Times are epoch milliseconds (`bigint`) read from
 * the database clock, so application servers with skewed clocks still agree on when a
 * lease lapses. A statement "fenced by $3" only touches an in-flight record whose owner
 * token is $3: an execution whose lease was taken over can never write over the record
 * of the execution that took it.
 *
 * @module
 */

/** The database clock in epoch milliseconds; `now()` is fixed for the statement. */
const NOW_MS = "floor(extract(epoch FROM now()) * 1000)::bigint";

/** True for a record `r` that nobody holds any more: a lapsed lease or an expired completion. */
const IS_DEAD = `(r.state = 'in_flight' AND r.lease_expires_at <= ${NOW_MS})
      OR (r.state = 'completed' AND r.expires_at <= ${NOW_MS})`;

/** The columns `decodeRecordRow` reads. */
const RECORD_COLUMNS = `r.state, r.fingerprint, r.token, r.created_at, r.lease_expires_at, r.completed_at,
       r.expires_at, r.status, r.headers, r.body_length, r.chunk_count, r.body_omitted`;

/**
 * Body chunk 0 of a completed record `r` whose body is in the chunks table: one longer
 * than a chunk, or any body of an earlier version (see `READ_WITH_CHUNK`). A one-chunk
 * body of this version is in the record's own `first_chunk` column (see `COMPLETE_ONE`).
 */
const FIRST_CHUNK = `COALESCE(r.first_chunk, CASE WHEN r.state = 'completed' AND r.chunk_count > 0 THEN
         (SELECT c.data FROM {chunks} c WHERE c.scope = r.scope AND c.key = r.key AND c.idx = 0) END) AS first_chunk`;

/**
 * The payload of a record's notification: an MD5 digest of its scope (length-prefixed)
 * and key, as `notificationId` computes it in the store, so the raw key never travels
 * to listeners. UTF-8 whatever the database encoding, as in Node.
 */
const NOTIFICATION_ID = `md5(convert_to(octet_length(convert_to($1::text, 'UTF8')) || ':' || $1::text || $2::text, 'UTF8'))`;

/**
 * Notifies the store's channel of each row of `changed` that has `watched` set, and only
 * of those: a transaction that notifies takes a lock that serialises the commits of every
 * notifying transaction in the cluster, which cut single-row commits from ~5,000/s to
 * ~430/s on the project machine (pgbench, 10 clients). So a completion nobody waits for
 * costs nothing extra. Referenced by the final `SELECT`, since an unreferenced `SELECT` in
 * a `WITH` is never run.
 */
const NOTIFY_WATCHED = `notified AS (
  SELECT pg_notify('{channel}', ${NOTIFICATION_ID}) FROM changed WHERE changed.watched
)`;

/**
 * Reads a record, with its `first_chunk`, and the database clock: the first statement of
 * a claim, and all of `get`. A replay or a duplicate of a key in flight is this one
 * indexed read and nothing else: a read-only statement, which takes no row lock, so a
 * burst of duplicates of one key runs in parallel. It is kept apart from the writes
 * because PostgreSQL sets up every data-modifying part of a statement on each execution,
 * even one that ends up changing nothing: a single claim statement that read, then
 * inserted or took over only when it had to, cost a replay about 80% more database CPU
 * than this read alone. For the same reason it holds no subquery and no clock arithmetic
 * per row: the store tells from `now_ms` whether the record is dead (a lapsed lease, an
 * ended lifetime), as `IS_DEAD` does, and reads a live record whose body is in the chunks
 * table again with `READ_WITH_CHUNK`; together they cost about a fifth of this read's database CPU
 * (pgbench, prepared). When the read finds no live record the claim sends `CLAIM_FREE` or
 * `TAKE_OVER`, which checks deadness again under the row lock.
 * Parameters: $1 scope, $2 key
 * Result: the columns of `RecordRow`, `first_chunk` and `now_ms`, or no row.
 */
export const READ = `
SELECT ${RECORD_COLUMNS}, r.first_chunk, ${NOW_MS} AS now_ms
  FROM {records} r
 WHERE r.scope = $1::text AND r.key = $2::text`;

/**
 * `READ` of a completed record whose body chunk 0 is in the chunks table (a body longer
 * than one chunk, or one written by an earlier version): the record and that chunk in one
 * statement, so that they agree.
 * Parameters: $1 scope, $2 key
 * Result: as `READ`.
 */
export const READ_WITH_CHUNK = `
SELECT ${RECORD_COLUMNS}, ${FIRST_CHUNK}, ${NOW_MS} AS now_ms
  FROM {records} r
 WHERE r.scope = $1::text AND r.key = $2::text`;

/**
 * Claims a free key with an in-flight record. `ON CONFLICT DO NOTHING` takes no lock on
 * a record that is there, live or dead, nor on one a concurrent claim committed in the
 * meantime; the caller then reads the key.
 * Parameters: $1 scope, $2 key, $3 fingerprint, $4 token, $5 lease length in ms
 * Result: rowCount 1 when the caller acquired the key, else 0.
 */
export const CLAIM_FREE = `
INSERT INTO {records} (scope, key, state, fingerprint, token, created_at, lease_expires_at)
SELECT $1::text, $2::text, 'in_flight', $3::text, $4::text, clock.ms, clock.ms + $5::bigint
  FROM (SELECT ${NOW_MS} AS ms) AS clock
ON CONFLICT (scope, key) DO NOTHING`;

/**
 * Replaces a record that `READ` found dead with a fresh in-flight one, and deletes the
 * chunks of the replaced record. Under READ COMMITTED the `UPDATE` re-checks deadness on
 * the row's newest version once it holds the row lock, so of concurrent claims that all
 * read the dead record exactly one takes it over; the others, like a claim whose dead
 * record was purged in the meantime, change nothing and read the key again.
 * Parameters: $1 scope, $2 key, $3 fingerprint, $4 token, $5 lease length in ms
 * Result: rowCount 1 when the caller acquired the key, else 0.
 */
export const TAKE_OVER = `
WITH taken_over AS (
  UPDATE {records} AS r
     SET state = 'in_flight', fingerprint = $3::text, token = $4::text,
         created_at = ${NOW_MS}, lease_expires_at = ${NOW_MS} + $5::bigint,
         completed_at = NULL, expires_at = NULL, status = NULL, headers = NULL,
         body_length = NULL, chunk_count = NULL, body_omitted = NULL, first_chunk = NULL,
         watched = false
   WHERE r.scope = $1::text AND r.key = $2::text AND (${IS_DEAD})
  RETURNING r.key
),
discarded AS (
  DELETE FROM {chunks}
   WHERE scope = $1::text AND key = $2::text AND EXISTS (SELECT FROM taken_over)
)
SELECT FROM taken_over`;

/**
 * Moves the lease end of an owned in-flight record, lapsed or not. Fenced by $3.
 * Parameters: $1 scope, $2 key, $3 token, $4 lease length in ms
 * Result: rowCount 1 when the caller owns the record, else 0.
 */
export const RENEW = `
UPDATE {records} SET lease_expires_at = ${NOW_MS} + $4::bigint
 WHERE scope = $1::text AND key = $2::text AND state = 'in_flight' AND token = $3::text`;

/**
 * Deletes an owned in-flight record; its chunks go with it (ON DELETE CASCADE). Fenced by
 * $3. Notifies waiters if any duplicate watches the record (see `NOTIFY_WATCHED`).
 * Parameters: $1 scope, $2 key, $3 token
 * Result: one row, `released` = 1 when the caller owned the record, else 0, and
 * `notified`, the number of notifications sent (0 or 1).
 */
export const RELEASE = `
WITH changed AS (
  DELETE FROM {records}
   WHERE scope = $1::text AND key = $2::text AND state = 'in_flight' AND token = $3::text
  RETURNING watched
),
${NOTIFY_WATCHED}
SELECT (SELECT count(*)::integer FROM changed) AS released, (SELECT count(*)::integer FROM notified) AS notified`;

/**
 * Marks an in-flight record as watched, so that its completion or release notifies the
 * store's channel, when it is still in flight under the token the waiter saw. Sent once
 * per record by a store whose listener already listens, so no notification can fall
 * between the mark and the listening. The row lock orders it against a concurrent
 * completion: either the completion sees the mark and notifies, or this statement sees
 * the completed row and changes nothing, and the waiter looks again at once.
 * Parameters: $1 scope, $2 key, $3 token
 * Result: rowCount 1 when the record is still that in-flight record, else 0.
 */
export const WATCH = `
UPDATE {records} SET watched = true
 WHERE scope = $1::text AND key = $2::text AND state = 'in_flight' AND token = $3::text`;

/**
 * Stores (or overwrites) body chunk $4 of an owned in-flight record. Fenced by $3; the
 * share lock on the record makes a concurrent takeover, completion or release wait for
 * the write, or makes the write see their result and store nothing.
 * Parameters: $1 scope, $2 key, $3 token, $4 chunk index, $5 bytes
 * Result: rowCount 1 when the caller owns the record, else 0.
 */
export const APPEND_CHUNK = `
INSERT INTO {chunks} (scope, key, idx, data)
SELECT r.scope, r.key, $4::integer, $5::bytea
  FROM {records} r
 WHERE r.scope = $1::text AND r.key = $2::text AND r.state = 'in_flight' AND r.token = $3::text
   FOR SHARE
ON CONFLICT (scope, key, idx) DO UPDATE SET data = excluded.data`;

/**
 * The `UPDATE` that turns an owned in-flight record into a completed one, fenced by $3;
 * deliberately not by the lease end, since a late completion is fine as long as nobody
 * took over. `first_chunk` is set to `$firstChunk`.
 * Parameters: $1 scope, $2 key, $3 token, $4 lifetime in ms, $5 status, $6 headers (JSON
 *   text), $7 body length, $8 chunk count, $9 body omitted, $10 final chunk bytes,
 *   $11 fingerprint (NULL keeps the claim's)
 */
const completeRecord = (firstChunk: string) => `changed AS (
  UPDATE {records}
     SET state = 'completed', token = NULL, lease_expires_at = NULL,
         completed_at = ${NOW_MS}, expires_at = ${NOW_MS} + $4::bigint,
         status = $5::integer, headers = $6::text, body_length = $7::bigint,
         chunk_count = $8::integer, body_omitted = $9::boolean, first_chunk = ${firstChunk},
         fingerprint = COALESCE($11::text, fingerprint)
   WHERE scope = $1::text AND key = $2::text AND state = 'in_flight' AND token = $3::text
  RETURNING scope, key, watched
)`;

/**
 * Completes a record whose body is at most one chunk and was not omitted, the common
 * case: the chunk goes into the record's own row, so the statement writes one row and
 * leaves the chunks table alone. Chunks appended before it stay until the record goes,
 * unread: `READ` and `READ_CHUNK` only return chunks below the chunk count, and prefer
 * `first_chunk`. Deleting them here would cost every completion a lookup in the chunks
 * table, about 7% of the database's throughput of new keys (pgbench, 10 clients).
 * Notifies waiters if any duplicate watches the record (see `NOTIFY_WATCHED`).
 * Parameters: those of `completeRecord`; $10 is ignored when $8 is 0
 * Result: one row, `completed` = 1 when the caller owned the record, else 0, and
 * `notified`, the number of notifications sent (0 or 1).
 */
export const COMPLETE_ONE = `
WITH ${completeRecord("CASE WHEN $8::integer > 0 THEN $10::bytea END")},
${NOTIFY_WATCHED}
SELECT (SELECT count(*)::integer FROM changed) AS completed, (SELECT count(*)::integer FROM notified) AS notified`;

/**
 * Completes a record whose body spans several chunks or was omitted: deletes its chunks
 * from index $8 (the chunk count) upwards and stores the final chunk as chunk $8 - 1,
 * all at once, and notifies waiters if any duplicate watches the record (see
 * `NOTIFY_WATCHED`).
 * Parameters: those of `completeRecord`
 * Result: as for `COMPLETE_ONE`.
 */
export const COMPLETE = `
WITH ${completeRecord("NULL")},
trimmed AS (
  DELETE FROM {chunks} c USING changed
   WHERE c.scope = changed.scope AND c.key = changed.key AND c.idx >= $8::integer
),
final AS (
  INSERT INTO {chunks} (scope, key, idx, data)
  SELECT scope, key, $8::integer - 1, $10::bytea FROM changed WHERE $8::integer > 0
  ON CONFLICT (scope, key, idx) DO UPDATE SET data = excluded.data
),
${NOTIFY_WATCHED}
SELECT (SELECT count(*)::integer FROM changed) AS completed, (SELECT count(*)::integer FROM notified) AS notified`;

/**
 * Reads body chunk $3 of a live completed record. Only chunks below the record's chunk
 * count are its body: `COMPLETE_ONE` leaves chunks appended before it where they are.
 * Parameters: $1 scope, $2 key, $3 chunk index
 * Result: one row (`data`, NULL for a missing chunk), or none.
 */
export const READ_CHUNK = `
SELECT COALESCE(CASE WHEN $3::integer = 0 THEN r.first_chunk END, c.data) AS data
  FROM {records} r
  LEFT JOIN {chunks} c ON c.scope = r.scope AND c.key = r.key AND c.idx = $3::integer
 WHERE r.scope = $1::text AND r.key = $2::text AND $3::integer < r.chunk_count
   AND r.state = 'completed' AND r.expires_at > ${NOW_MS}`;

/**
 * Deletes up to $1 records whose lease lapsed or whose lifetime ended, with their
 * chunks (ON DELETE CASCADE). Rows another transaction holds are skipped rather than
 * waited for, so a purge never blocks a claim or a completion. `ctid = ANY(ARRAY(…))`
 * rather than `ctid IN (…)` makes the planner fetch the rows by address (a TID scan)
 * instead of scanning the table to join on it.
 * Parameters: $1 batch size
 * Result: rowCount, the number of records deleted.
 */
export const PURGE_BATCH = `
DELETE FROM {records}
 WHERE ctid = ANY (ARRAY (
         SELECT r.ctid FROM {records} r
          WHERE ${IS_DEAD}
          LIMIT $1::integer
            FOR UPDATE SKIP LOCKED))`;

/**
 * Lists live records in (scope, key) order, after the cursor ($1, $2) when $1 is not NULL.
 * Parameters: $1 scope after which to start (or NULL), $2 key after which to start, $3 row limit
 * Result: up to $3 rows: scope, key, the columns of `RecordRow`, `first_chunk`.
 */
export const LIST = `
SELECT r.scope, r.key, ${RECORD_COLUMNS}, ${FIRST_CHUNK}
  FROM {records} r
 WHERE ($1::text IS NULL OR (r.scope, r.key) > ($1::text, $2::text))
   AND ((r.state = 'in_flight' AND r.lease_expires_at > ${NOW_MS})
     OR (r.state = 'completed' AND r.expires_at > ${NOW_MS}))
 ORDER BY r.scope, r.key
 LIMIT $3::bigint`;

/**
 * Deletes a record in any state, with its chunks (ON DELETE CASCADE).
 * Parameters: $1 scope, $2 key
 * Result: rowCount 1 when there was a record, else 0.
 */
export const DELETE_RECORD = `
DELETE FROM {records} WHERE scope = $1::text AND key = $2::text`;
