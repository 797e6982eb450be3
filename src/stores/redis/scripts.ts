/**
 * The Lua scripts behind the Redis store: one script per store operation, so that
 * every operation is a single atomic round trip.
 *
 * Key layout, for one record (both keys carry the same hash tag, so they live in one
 * cluster slot):
 * - `KEYS[1]`, the record hash `…{tag}:r`. In flight it holds `state`, `fingerprint`,
 *   `token`, `created_at`, `lease_expires_at`, `scope` and `key` (the tag is a digest of
 *   them, and listing needs them back), and once chunks are stored `chunk0` (body chunk
 *   0, so a replay needs no second read) and `chunks_written` (one past the highest chunk
 *   index ever stored, so chunk keys can be found again). Completed, `state` becomes
 *   `completed` and `meta` holds everything a replay needs in one string (see
 *   `completed-meta.ts`), so that a replay reads three fields and Redis converts three
 *   values, not a dozen. Records completed before `meta` existed keep the fields of
 *   `RecordRow` instead, and every script still reads them;
 * - `KEYS[2]`, the chunk key prefix `…{tag}:c:`; chunk `i ≥ 1` is the string key
 *   `KEYS[2] .. i`.
 *
 * Times come from the Redis server clock (`TIME`), so that application instances with
 * skewed clocks agree on when a lease lapses. Every script that changes an in-flight
 * record first checks that it is in flight and owned by the caller's token (fencing).
 *
 * @module
 */

/** `now`: the server time in epoch milliseconds. */
const clock = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/** Formats an integer for Redis; Lua's default number formatting switches to exponents. */
const int = `
local function int(n) return string.format('%d', n) end
`;

/** True when the record in KEYS[1] is in flight and owned by `token`. */
const ownedBy = `
local function owned_by(token)
  local owner = redis.call('HMGET', KEYS[1], 'state', 'token')
  return owner[1] == 'in_flight' and owner[2] == token
end
`;

/**
 * The record's fields as a flat name/value list. Chunk 0 is left out of in-flight
 * records: nobody replays them, and it may be large.
 */
const recordFields = `
local function record_fields(reply, in_flight)
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do
    if not (in_flight and flat[i] == 'chunk0') then
      reply[#reply + 1] = flat[i]
      reply[#reply + 1] = flat[i + 1]
    end
  end
  return reply
end
`;

/**
 * `expires_at, chunk_count` of a completed record: from its `meta` when it has one, else
 * from the fields of the older layout.
 */
const completedLimits = `
local function completed_limits(expires_at, count, meta)
  if meta then expires_at, count = string.match(meta, '^%d+,%d+,(%d+),(%d+),') end
  return tonumber(expires_at), tonumber(count)
end
`;

/**
 * `live, state` of the record in KEYS[1]: live is a completed record before its expiry,
 * an in-flight record before `lease_expires_at`. A record in an unknown shape counts as
 * live, so that it reaches the decoder and surfaces as corrupt instead of being
 * silently replaced.
 */
const isLive = `${completedLimits}
local function is_live()
  local row = redis.call('HMGET', KEYS[1], 'state', 'lease_expires_at', 'expires_at', 'chunk_count', 'meta')
  local deadline
  if row[1] == 'completed' then deadline = completed_limits(row[3], row[4], row[5])
  elseif row[1] == 'in_flight' then deadline = tonumber(row[2]) end
  return deadline == nil or deadline > now, row[1]
end
`;

/**
 * Publishes the record's change to the store's channel, `<prefix>changes`, with the
 * record's hash tag (a digest, never the key) as the message; both are read from KEYS[1],
 * so only a watched record, the rare case, pays for it. Plain PUBLISH, which a cluster
 * forwards to every node, so the store's one subscriber connection hears it wherever it is.
 */
const publishChange = `
local function publish_change()
  local prefix, tag = string.match(KEYS[1], '^(.*){(.*)}:r$')
  redis.call('PUBLISH', prefix .. 'changes', tag)
end
`;

/** Number of chunk keys (indices 1 … n-1) the record may own. */
const chunksWritten = `
local function chunks_written()
  return tonumber(redis.call('HGET', KEYS[1], 'chunks_written')) or 0
end
`;

/** Deletes the record and every chunk key it may own. */
const deleteRecord = `${chunksWritten}
local function delete_record()
  for i = 1, chunks_written() - 1 do redis.call('DEL', KEYS[2] .. i) end
  redis.call('DEL', KEYS[1])
end
`;

/**
 * The fields of a record that `claim` returns for an in-flight record, or a completed one
 * of the older layout, in this order (then chunk 0 of a completed record): a positional
 * reply, so neither side spends work on field names.
 */
export const CLAIM_REPLY_FIELDS = [
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
] as const;

/**
 * claim — create an in-flight record unless a live one exists.
 *
 * A completed record is live as long as its key exists: `complete` gives it a Redis expiry
 * of exactly its TTL. So a replay, the common case, is one read of three fields without
 * the clock; only a key in flight needs `TIME`, to see whether its lease lapsed.
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] fingerprint; ARGV[2] owner token; ARGV[3] lease (ms);
 * ARGV[4] how long the record lives before Redis deletes it (ms): the lease plus a grace;
 * ARGV[5] scope; ARGV[6] key.
 *
 * Result: the integer 1 when a lapsed record was replaced and 0 when there was none (the
 * caller acquired the key); for a completed record, `completed`, its `meta` and chunk 0;
 * otherwise the live record, the values of {@link CLAIM_REPLY_FIELDS} in order, then
 * chunk 0 of a completed record of the older layout.
 */
export const claimScript = `${int}${deleteRecord}
local head = redis.call('HMGET', KEYS[1], 'state', 'meta', 'chunk0')
local state = head[1]
if state == 'completed' and head[2] then return head end
local row
if state then
  row = redis.call('HMGET', KEYS[1], ${CLAIM_REPLY_FIELDS.map((field) => `'${field}'`).join(", ")})
  if state == 'completed' then
    row[13] = head[3]
    return row
  end
end
${clock}
local took_over = 0
if state then
  -- An unknown shape counts as live, so that it reaches the decoder and surfaces as corrupt.
  local lease_end = tonumber(row[5])
  if state ~= 'in_flight' or not lease_end or lease_end > now then return row end
  delete_record()
  took_over = 1
end
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fingerprint', ARGV[1], 'token', ARGV[2],
  'created_at', int(now), 'lease_expires_at', int(now + tonumber(ARGV[3])),
  'scope', ARGV[5], 'key', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return took_over
`;

/**
 * renew — extend the lease of an in-flight record, and the life of its chunk keys.
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] owner token; ARGV[2] lease (ms); ARGV[3] grace after the lease (ms).
 *
 * Result: 1 when renewed, 0 when the caller is not the owner.
 */
export const renewScript = `${clock}${int}${ownedBy}${chunksWritten}
if not owned_by(ARGV[1]) then return 0 end
local lease = tonumber(ARGV[2])
local life = int(lease + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'lease_expires_at', int(now + lease))
redis.call('PEXPIRE', KEYS[1], life)
for i = 1, chunks_written() - 1 do redis.call('PEXPIRE', KEYS[2] .. i, life) end
return 1
`;

/**
 * release — delete an in-flight record and its chunks, so the key can run again, and
 * publish the change when a duplicate watches the record (see `watchScript`).
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] owner token.
 *
 * Result: 1 when deleted, 0 when the caller is not the owner.
 */
export const releaseScript = `${ownedBy}${deleteRecord}${publishChange}
if not owned_by(ARGV[1]) then return 0 end
local watched = redis.call('HGET', KEYS[1], 'watched')
delete_record()
if watched then publish_change() end
return 1
`;

/**
 * watch — mark an in-flight record as watched, so that its completion or release is
 * published, when it is still in flight under the token the waiter saw. Sent once per
 * record by a store whose subscriber already listens, so no message can fall between the
 * two; scripts run one at a time, so either the completion sees the mark, or this script
 * sees the completed record and the waiter looks again at once. A takeover replaces the
 * whole hash, mark included.
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] owner token the waiter saw.
 *
 * Result: 1 when marked, 0 when the record is no longer that in-flight record.
 */
export const watchScript = `${ownedBy}
if not owned_by(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'watched', '1')
return 1
`;

/**
 * delete — delete a record in either state, with its chunks (for tooling).
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix. No ARGV.
 *
 * Result: 1 when a record was deleted, 0 when there was none.
 */
export const deleteScript = `${deleteRecord}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
delete_record()
return 1
`;

/**
 * appendChunk — store one body chunk of an in-flight record. Chunk 0 goes into the
 * record hash; later chunks get their own key, expiring with the record so that an
 * abandoned stream never leaks.
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] owner token; ARGV[2] chunk index; ARGV[3] chunk bytes.
 *
 * Result: 1 when stored, 0 when the caller is not the owner.
 */
export const appendChunkScript = `${int}${ownedBy}${chunksWritten}
if not owned_by(ARGV[1]) then return 0 end
local index = tonumber(ARGV[2])
if index == 0 then
  redis.call('HSET', KEYS[1], 'chunk0', ARGV[3])
else
  redis.call('SET', KEYS[2] .. index, ARGV[3])
  local life = redis.call('PTTL', KEYS[1])
  if life > 0 then redis.call('PEXPIRE', KEYS[2] .. index, life) end
end
if index >= chunks_written() then
  redis.call('HSET', KEYS[1], 'chunks_written', int(index + 1))
end
return 1
`;

/**
 * complete — turn an in-flight record into a completed one: store the final chunk,
 * delete chunks at or above the chunk count, write the record's `meta` and expire record
 * and chunks after the TTL; publish the change when a duplicate watches the record (see
 * `watchScript`).
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] owner token; ARGV[2] chunk count; ARGV[3] TTL (ms, ≥ 1);
 * ARGV[4] final chunk bytes (chunk `count - 1`; ignored when the count is 0);
 * ARGV[5] `status,body_length,body_omitted` of the meta; ARGV[6] headers (JSON);
 * ARGV[7] (optional) the fingerprint, replacing the claim's.
 *
 * Result: 1 when completed, 0 when the caller is not the owner.
 */
export const completeScript = `${publishChange}
local owner = redis.call('HMGET', KEYS[1], 'state', 'token', 'chunks_written', 'watched', 'created_at', 'fingerprint')
if owner[1] ~= 'in_flight' or owner[2] ~= ARGV[1] then return 0 end
local count = tonumber(ARGV[2])
local ttl = ARGV[3]
local written = tonumber(owner[3]) or 0
if count > 1 then redis.call('SET', KEYS[2] .. (count - 1), ARGV[4])
elseif count == 0 and written > 0 then redis.call('HDEL', KEYS[1], 'chunk0') end
for i = math.max(count, 1), written - 1 do redis.call('DEL', KEYS[2] .. i) end
${clock}
-- A missing field leaves a meta that the decoder rejects: the record surfaces as corrupt.
local fingerprint = ARGV[7] or owner[6] or ''
local meta = (owner[5] or '') .. string.format(',%d,%d,', now, now + tonumber(ttl)) .. ARGV[2] .. ','
  .. ARGV[5] .. ',' .. #fingerprint .. ',' .. fingerprint .. ARGV[6]
-- The older fields stay behind: the state alone fences a completed record, and meta wins.
if count == 1 then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'meta', meta, 'chunks_written', '1', 'chunk0', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'state', 'completed', 'meta', meta, 'chunks_written', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ttl)
for i = 1, count - 1 do redis.call('PEXPIRE', KEYS[2] .. i, ttl) end
if owner[4] then publish_change() end
return 1
`;

/**
 * get — read the live record.
 *
 * KEYS[1] record hash (KEYS[2], the chunk key prefix, is passed to every script but
 * unused here). No ARGV.
 *
 * Result: `{field, value, …}`, or an empty list when there is no live record.
 */
export const getScript = `${clock}${recordFields}${isLive}
local live, state = is_live()
if not state or not live then return {} end
return record_fields({}, state == 'in_flight')
`;

/**
 * readChunk — read one body chunk of a live completed record.
 *
 * KEYS[1] record hash; KEYS[2] chunk key prefix.
 * ARGV[1] chunk index.
 *
 * Result: the chunk bytes, or nil when the record is not a live completed record or
 * has no such chunk.
 */
export const readChunkScript = `${clock}${completedLimits}
local row = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'chunk_count', 'meta')
local index = tonumber(ARGV[1])
local expires_at, count = completed_limits(row[2], row[3], row[4])
if row[1] ~= 'completed' or not expires_at or expires_at <= now or not count or index >= count then
  return false
end
if index == 0 then return redis.call('HGET', KEYS[1], 'chunk0') end
return redis.call('GET', KEYS[2] .. index)
`;
