/**
 * Scripts for records of the first version's layout, which may still be in Redis after
 * an upgrade: a hash `KEYS[1]` with one field per column of `RecordRow`, plus `scope`,
 * `key`, `chunk0` and `chunks_written`, and chunk `i ≥ 1` in the string key
 * `KEYS[2] .. i`. They are read (replayed, listed, deleted) and, once their lease lapsed,
 * replaced by a record of the current layout; nothing writes this layout any more.
 *
 * @module
 */

/** The hash fields a legacy record is read as, in this order (then `chunk0`). */
export const LEGACY_FIELDS = [
  "state",
  "fingerprint",
  "token",
  "created_at",
  "lease_expires_at",
  "completed_at",
  "expires_at",
  "status",
  "headers",
  "body_length",
  "chunk_count",
  "body_omitted",
  "scope",
  "key",
  "chunk0",
] as const;

/**
 * Ends the script with {@link MOVED} unless KEYS[1] still holds a hash: the record expired
 * or was replaced between the caller's first command and this script, and the caller runs
 * that command again.
 */
const stillLegacy = `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return {'moved'} end
`;

/** The reply of a legacy script that found no legacy record to work on. */
export const MOVED = "moved";

/**
 * `read()`: the live record's fields in {@link LEGACY_FIELDS} order, or nil; a record in
 * an unknown shape counts as live, so that it reaches the decoder and surfaces as corrupt.
 */
const read = `
local function read()
  local row = redis.call('HMGET', KEYS[1], ${LEGACY_FIELDS.map((field) => `'${field}'`).join(", ")})
  local deadline
  if row[1] == 'completed' then deadline = tonumber(row[7])
  elseif row[1] == 'in_flight' then deadline = tonumber(row[5]) end
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  if deadline ~= nil and deadline <= now then return nil end
  return row
end
`;

/** Deletes the legacy record and its chunk keys. */
const deleteRecord = `
local function delete_record()
  local written = tonumber(redis.call('HGET', KEYS[1], 'chunks_written')) or 0
  for i = 1, written - 1 do redis.call('DEL', KEYS[2] .. i) end
  redis.call('DEL', KEYS[1])
end
`;

/**
 * legacyClaim — answer a live legacy record, or replace a lapsed one with the caller's
 * in-flight value.
 *
 * ARGV[1] the caller's in-flight value; ARGV[2] its key's life (lease plus grace, ms).
 *
 * Result: 1 when the caller took the key over, else the record's fields.
 */
export const legacyClaimScript = `${read}${deleteRecord}${stillLegacy}
local row = read()
if row then return row end
delete_record()
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** legacyGet — the live record's fields, or an empty list. */
export const legacyGetScript = `${read}${stillLegacy}
return read() or {}
`;

/** legacyReadChunk — chunk `ARGV[1]` of a live completed legacy record, or nil. */
export const legacyReadChunkScript = `${read}${stillLegacy}
local row = read()
local index = tonumber(ARGV[1])
if not row or row[1] ~= 'completed' or index >= (tonumber(row[11]) or 0) then return false end
if index == 0 then return row[15] end
return redis.call('GET', KEYS[2] .. index)
`;

/** legacyDelete — delete the legacy record and its chunks; 1. */
export const legacyDeleteScript = `${deleteRecord}${stillLegacy}
delete_record()
return 1
`;
