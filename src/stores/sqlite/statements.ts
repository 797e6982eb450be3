/**
 * The SQL of the SQLite store, one documented constant per statement, and
 * {@link prepareStatements}, which compiles them once per connection.
 *
 * Parameters are named (`@scope`); times are epoch milliseconds taken by the caller
 * inside the surrounding transaction. A statement "fenced by @token" only touches an
 * in-flight record whose owner token matches, which is what keeps a superseded
 * execution from writing over the record of the execution that took the key over.
 *
 * @module
 */
import type BetterSqlite3 from "better-sqlite3";
import type { RecordRow } from "../record-codec.js";

/**
 * Chunk 0 of a completed record with a body, as column `first_chunk`: from the row itself
 * when the body is one chunk, else from `oncely_chunks` (bodies of several chunks, and
 * single-chunk bodies completed before the column existed). CASE evaluates the subquery
 * only when it is needed, so the common replay reads one row of one table.
 */
const FIRST_CHUNK = `
       CASE WHEN r.first_chunk IS NOT NULL THEN r.first_chunk
            WHEN r.state = 'completed' AND r.chunk_count > 0
            THEN (SELECT c.data FROM oncely_chunks c WHERE c.scope = r.scope AND c.key = r.key AND c.idx = 0)
       END AS first_chunk`;

/**
 * Reads a record, whatever its state or age, with chunk 0 of a completed one: one
 * statement, so one snapshot and no transaction around it.
 * Parameters: @scope, @key
 * Result: one row with the columns of {@link RecordRow} and first_chunk (or NULL), or none.
 */
export const SELECT_RECORD = `
SELECT r.state, r.fingerprint, r.token, r.created_at, r.lease_expires_at, r.completed_at,
       r.expires_at, r.status, r.headers, r.body_length, r.chunk_count, r.body_omitted,${FIRST_CHUNK}
  FROM oncely_records r
 WHERE r.scope = @scope AND r.key = @key`;

/**
 * Reads a body chunk of a completed record that has not expired: chunk 0 from the row when
 * the body is one chunk stored there, else from `oncely_chunks`. Indexes at or above the
 * record's chunk count find nothing, whatever `oncely_chunks` still holds for the key (see
 * {@link COMPLETE_OWNED_RECORD}).
 * Parameters: @scope, @key, @idx, @now
 * Result: the chunk's bytes (plucked; NULL if the chunk is missing), or none.
 */
export const SELECT_LIVE_CHUNK = `
SELECT CASE WHEN @idx = 0 AND r.first_chunk IS NOT NULL THEN r.first_chunk
            ELSE (SELECT c.data FROM oncely_chunks c WHERE c.scope = r.scope AND c.key = r.key AND c.idx = @idx)
       END
  FROM oncely_records r
 WHERE r.scope = @scope AND r.key = @key AND r.state = 'completed' AND r.expires_at > @now
   AND @idx < r.chunk_count`;

/**
 * Reads a page of live records (in flight with a running lease, or completed and not
 * expired) with chunk 0 of the completed ones, in (scope, key) order after the record
 * named by @afterScope and @afterKey (both NULL for the first page).
 * Parameters: @afterScope, @afterKey, @now, @limit
 * Result: up to @limit rows: scope, key, the columns of {@link RecordRow}, first_chunk (or NULL).
 */
export const LIST_LIVE_RECORDS = `
SELECT r.scope, r.key, r.state, r.fingerprint, r.token, r.created_at, r.lease_expires_at,
       r.completed_at, r.expires_at, r.status, r.headers, r.body_length, r.chunk_count,
       r.body_omitted,${FIRST_CHUNK}
  FROM oncely_records r
 WHERE (@afterScope IS NULL OR (r.scope, r.key) > (@afterScope, @afterKey))
   AND ((r.state = 'in_flight' AND r.lease_expires_at > @now)
     OR (r.state = 'completed' AND r.expires_at > @now))
 ORDER BY r.scope, r.key
 LIMIT @limit`;

/**
 * Makes the caller the owner of a fresh in-flight record, replacing whatever row was
 * there (the claim has checked that it is absent, lapsed or expired). REPLACE resets
 * every column not named here to NULL, so nothing of a completed record survives, its
 * first_chunk included (its rows in `oncely_chunks` are the caller's to delete).
 * Parameters: @scope, @key, @fingerprint, @token, @now, @leaseExpiresAt
 * Result: none.
 */
export const REPLACE_WITH_IN_FLIGHT = `
INSERT OR REPLACE INTO oncely_records (scope, key, state, fingerprint, token, created_at, lease_expires_at)
VALUES (@scope, @key, 'in_flight', @fingerprint, @token, @now, @leaseExpiresAt)`;

/**
 * Moves the lease end of an owned in-flight record. Fenced by @token.
 * Parameters: @scope, @key, @token, @leaseExpiresAt
 * Result: changes = 1 when the caller owns the record, else 0.
 */
export const RENEW_LEASE = `
UPDATE oncely_records SET lease_expires_at = @leaseExpiresAt
 WHERE scope = @scope AND key = @key AND state = 'in_flight' AND token = @token`;

/**
 * Deletes an owned in-flight record (its chunks go with {@link DELETE_CHUNKS}). Fenced by @token.
 * Parameters: @scope, @key, @token
 * Result: changes = 1 when the caller owned the record, else 0.
 */
export const DELETE_OWNED_RECORD = `
DELETE FROM oncely_records
 WHERE scope = @scope AND key = @key AND state = 'in_flight' AND token = @token`;

/**
 * Stores (or overwrites) body chunk @idx of an owned in-flight record, in one statement
 * so that the ownership check and the write cannot be separated. Fenced by @token.
 * Parameters: @scope, @key, @token, @idx, @data
 * Result: changes = 1 when the caller owns the record, else 0.
 */
export const PUT_OWNED_CHUNK = `
INSERT OR REPLACE INTO oncely_chunks (scope, key, idx, data)
SELECT @scope, @key, @idx, @data
 WHERE EXISTS (SELECT 1 FROM oncely_records
                WHERE scope = @scope AND key = @key AND state = 'in_flight' AND token = @token)`;

/**
 * Stores (or overwrites) body chunk @idx without checking ownership; only for use in a
 * transaction that has just proved it, as {@link COMPLETE_OWNED_RECORD} does.
 * Parameters: @scope, @key, @idx, @data
 * Result: none.
 */
export const PUT_CHUNK = `
INSERT OR REPLACE INTO oncely_chunks (scope, key, idx, data) VALUES (@scope, @key, @idx, @data)`;

/**
 * Turns an owned in-flight record into a completed one. Fenced by @token; deliberately
 * not by the lease end, since a late completion is fine as long as nobody took over.
 * A body of exactly one chunk goes into first_chunk here, which completes it with this
 * one statement: chunks the lease may have appended stay in `oncely_chunks`, where the
 * readers' rules (first_chunk first, nothing at or above chunk_count) leave them unseen
 * until the record goes. Bodies of several chunks pass NULL and write their final chunk
 * with {@link PUT_CHUNK}.
 * Parameters: @scope, @key, @token, @now, @expiresAt, @status, @headers (JSON text),
 *   @bodyLength, @chunkCount, @bodyOmitted (0 or 1), @firstChunk (the body when it is one
 *   chunk, else NULL), @fingerprint (NULL keeps the claim's)
 * Result: changes = 1 when the caller owned the record, else 0.
 */
export const COMPLETE_OWNED_RECORD = `
UPDATE oncely_records
   SET state = 'completed', token = NULL, lease_expires_at = NULL,
       completed_at = @now, expires_at = @expiresAt, status = @status, headers = @headers,
       body_length = @bodyLength, chunk_count = @chunkCount, body_omitted = @bodyOmitted,
       first_chunk = @firstChunk, fingerprint = COALESCE(@fingerprint, fingerprint)
 WHERE scope = @scope AND key = @key AND state = 'in_flight' AND token = @token`;

/**
 * Deletes a record whatever its state, for tooling (its chunks go with {@link DELETE_CHUNKS}).
 * Parameters: @scope, @key
 * Result: changes = 1 when there was a record, else 0.
 */
export const DELETE_RECORD = `
DELETE FROM oncely_records WHERE scope = @scope AND key = @key`;

/**
 * Deletes the chunks of a record from index @from upwards (0 deletes them all).
 * Parameters: @scope, @key, @from
 * Result: none.
 */
export const DELETE_CHUNKS = `
DELETE FROM oncely_chunks WHERE scope = @scope AND key = @key AND idx >= @from`;

/**
 * Deletes up to @limit records whose lease lapsed or whose lifetime ended (a negative
 * @limit means no limit), reporting which, so their chunks can be deleted too.
 * Parameters: @now, @limit
 * Result: one row (scope, key) per deleted record.
 */
export const PURGE_RECORDS = `
DELETE FROM oncely_records
 WHERE rowid IN (SELECT rowid FROM oncely_records
                  WHERE (state = 'in_flight' AND lease_expires_at <= @now)
                     OR (state = 'completed' AND expires_at <= @now)
                  LIMIT @limit)
RETURNING scope, key`;

interface RefParams {
  scope: string;
  key: string;
}
interface OwnedParams extends RefParams {
  token: string;
}
interface ChunkParams extends RefParams {
  idx: number;
}
interface ChunkData {
  data: Uint8Array;
}

/** A prepared statement taking one object of named parameters. */
type Statement<Params extends object, Result = unknown> = BetterSqlite3.Statement<[Params], Result>;

/** The prepared statements of one connection, named after the constants above. */
export interface Statements {
  selectRecord: Statement<RefParams, RecordRow & { first_chunk: Uint8Array | null }>;
  selectLiveChunk: Statement<ChunkParams & { now: number }, Uint8Array | null>;
  listLiveRecords: Statement<
    { afterScope: string | null; afterKey: string | null; now: number; limit: number },
    RecordRow & RefParams & { first_chunk: Uint8Array | null }
  >;
  replaceWithInFlight: Statement<OwnedParams & { fingerprint: string; now: number; leaseExpiresAt: number }>;
  renewLease: Statement<OwnedParams & { leaseExpiresAt: number }>;
  deleteOwnedRecord: Statement<OwnedParams>;
  putOwnedChunk: Statement<OwnedParams & ChunkParams & ChunkData>;
  putChunk: Statement<ChunkParams & ChunkData>;
  completeOwnedRecord: Statement<
    OwnedParams & {
      now: number;
      expiresAt: number;
      status: number;
      headers: string;
      bodyLength: number;
      chunkCount: number;
      bodyOmitted: 0 | 1;
      firstChunk: Uint8Array | null;
      fingerprint: string | null;
    }
  >;
  deleteRecord: Statement<RefParams>;
  deleteChunks: Statement<RefParams & { from: number }>;
  purgeRecords: Statement<{ now: number; limit: number }, RefParams>;
}

/** Compiles every statement once for `db`. */
export function prepareStatements(db: BetterSqlite3.Database): Statements {
  // Integers come back as numbers even on a connection whose default is bigint. A
  // plucked statement returns its one column (a chunk's bytes) instead of a row.
  const prepare = <S extends Statement<never>>(source: string, pluck = false): S => {
    const statement = db.prepare(source).safeIntegers(false);
    return (pluck ? statement.pluck() : statement) as unknown as S;
  };
  return {
    selectRecord: prepare(SELECT_RECORD),
    selectLiveChunk: prepare(SELECT_LIVE_CHUNK, true),
    listLiveRecords: prepare(LIST_LIVE_RECORDS),
    replaceWithInFlight: prepare(REPLACE_WITH_IN_FLIGHT),
    renewLease: prepare(RENEW_LEASE),
    deleteOwnedRecord: prepare(DELETE_OWNED_RECORD),
    putOwnedChunk: prepare(PUT_OWNED_CHUNK),
    putChunk: prepare(PUT_CHUNK),
    completeOwnedRecord: prepare(COMPLETE_OWNED_RECORD),
    deleteRecord: prepare(DELETE_RECORD),
    deleteChunks: prepare(DELETE_CHUNKS),
    purgeRecords: prepare(PURGE_RECORDS),
  };
}
