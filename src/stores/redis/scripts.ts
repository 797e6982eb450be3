/**
 * The Lua scripts behind the Redis store, for the operations that one native command
 * cannot do atomically: taking over a lapsed lease, and everything an owner does, which
 * is fenced by its token. A claim that finds no record, or a completed one, needs no
 * script (see `record-value.ts` for the value and the claim).
 *
 * Keys, under one hash tag so that they share a cluster slot:
 * - `KEYS[1]`, the record: one string value, in flight or completed;
 * - `KEYS[2]`, the chunk key prefix: body chunk `i` of an in-flight record is the string
 *   key `KEYS[2] .. i`; completion moves chunk 0 into the record, so a replay needs no
 *   second read, and a completed record keeps chunks 1 … count-1 there.
 *
 * Only a lease's end is told by the clock, and it is Redis's: the record's key expires
 * lease plus grace after the claim or the last renewal, so the lease is live while the
 * key's `PTTL` exceeds the grace written in the value.
 *
 * A record key holding a hash is a record of the first version's layout: scripts that
 * read a record let `GET` fail on it with WRONGTYPE and the store reads it with
 * `legacy-scripts.ts`; scripts of an owner use `pcall`, so that such a record (which has
 * no owner of this version) answers "not the owner".
 *
 * @module
 */

/**
 * `owned(fence)`: the in-flight value when KEYS[1] is in flight under `fence` (its
 * `i<T>:<token>` prefix), with its numbers and where its fingerprint starts; nil otherwise.
 */
const owned = `
local function owned(fence)
  local value = redis.pcall('GET', KEYS[1])
  if type(value) ~= 'string' or string.sub(value, 1, #fence) ~= fence then return nil end
  local grace, created, written, watched, fingerprint_length, at =
    string.match(value, '^(%d+),(%d+),(%d+),(%d),(%d+):()', #fence + 1)
  if not at then return nil end
  return {
    value = value, fence = fence, grace = grace, created = created,
    written = tonumber(written), watched = watched == '1',
    fingerprint_at = at, fingerprint_length = fingerprint_length,
  }
end
`;

/**
 * `rewrite(record, written, watched)`: the same in-flight record with new counters, same
 * expiry. Numbers go through `%d`: Lua would write a large one with an exponent.
 */
const rewrite = `
local function rewrite(record, written, watched)
  local value = record.fence .. record.grace .. ',' .. record.created .. ',' .. string.format('%d', written) .. ','
    .. (watched and '1' or '0') .. ',' .. string.sub(record.value, record.fingerprint_at - #record.fingerprint_length - 1)
  redis.call('SET', KEYS[1], value, 'KEEPTTL')
end
`;

/**
 * `lease_end(value)`: for an in-flight value, the end of its lease in epoch
 * milliseconds on the server clock, or nil once it lapsed; also `chunks_written`, and
 * true third when the value is malformed (the caller hands it to the decoder, which
 * reports the record as corrupt).
 */
const leaseEnd = `
local function lease_end(value)
  local token_length, at = string.match(value, '^i(%d+):()')
  if not at then return nil, 0, true end
  local grace, written = string.match(value, '^(%d+),%d+,(%d+),', at + tonumber(token_length))
  if not grace then return nil, 0, true end
  if redis.call('PTTL', KEYS[1]) <= tonumber(grace) then return nil, tonumber(written) end
  -- The key's own expiry time, not the clock plus PTTL: that sum moves by a millisecond
  -- from one read to the next, and a record must read the same until it changes.
  return redis.call('PEXPIRETIME', KEYS[1]) - tonumber(grace), tonumber(written)
end
`;

/**
 * Publishes the record's change to the store's channel, `<prefix>changes`, with the
 * record's hash tag (a digest, never the key) as the message; only a watched record, the
 * rare case, pays for it. Plain PUBLISH, which a cluster forwards to every node, so the
 * store's one subscriber connection hears it wherever it is.
 */
const publishChange = `
local function publish_change()
  local prefix, tag = string.match(KEYS[1], '^(.*){(.*)}:r$')
  redis.call('PUBLISH', prefix .. 'changes', tag)
end
`;

/** Deletes chunk keys `from` … `to`. */
const deleteChunks = `
local function delete_chunks(from, to)
  for i = from, to do redis.call('DEL', KEYS[2] .. i) end
end
`;

/**
 * claim — run when `SET … NX GET` met an in-flight record: take the key over when the
 * record's lease lapsed, else answer the record.
 *
 * ARGV[1] the caller's in-flight value; ARGV[2] its key's life (lease plus grace, ms).
 *
 * Result: 0 when the record was gone by now and the caller acquired the key, 1 when the
 * caller took a lapsed lease over; otherwise `{value, lease_end}` for an in-flight
 * record, or `{value}` for any other.
 */
export const claimScript = `${leaseEnd}${deleteChunks}
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
if string.sub(value, 1, 1) ~= 'i' then return {value} end
local live_until, written, malformed = lease_end(value)
if malformed then return {value} end
if live_until then return {value, live_until} end
delete_chunks(0, written - 1)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/**
 * get — read the live record.
 *
 * Result: `{value, lease_end}` for an in-flight record with a live lease, `{value}` for
 * a completed one, and an empty list when there is no live record.
 */
export const getScript = `${leaseEnd}
local value = redis.call('GET', KEYS[1])
if not value then return {} end
if string.sub(value, 1, 1) ~= 'i' then return {value} end
local live_until, _, malformed = lease_end(value)
if malformed then return {value} end
if live_until then return {value, live_until} end
return {}
`;

/**
 * renew — extend the lease of an in-flight record, and the life of its chunk keys.
 *
 * ARGV[1] fence; ARGV[2] lease (ms).
 *
 * Result: 1 when renewed, 0 when the caller is not the owner.
 */
export const renewScript = `${owned}
local record = owned(ARGV[1])
if not record then return 0 end
-- PEXPIRE 0 would delete the record.
local life = string.format('%d', math.max(1, tonumber(ARGV[2]) + tonumber(record.grace)))
redis.call('PEXPIRE', KEYS[1], life)
for i = 0, record.written - 1 do redis.call('PEXPIRE', KEYS[2] .. i, life) end
return 1
`;

/**
 * release — delete an in-flight record and its chunks, so the key can run again, and
 * publish the change when a duplicate watches the record (see `watchScript`).
 *
 * ARGV[1] fence.
 *
 * Result: 1 when deleted, 0 when the caller is not the owner.
 */
export const releaseScript = `${owned}${deleteChunks}${publishChange}
local record = owned(ARGV[1])
if not record then return 0 end
delete_chunks(0, record.written - 1)
redis.call('DEL', KEYS[1])
if record.watched then publish_change() end
return 1
`;

/**
 * watch — mark an in-flight record as watched, so that its completion or release is
 * published, when it is still in flight under the token the waiter saw. Sent once per
 * record by a store whose subscriber already listens, so no message can fall between the
 * two; scripts run one at a time, so either the completion sees the mark, or this script
 * sees the completed record and the waiter looks again at once. A takeover writes a new
 * value, unmarked.
 *
 * ARGV[1] fence of the token the waiter saw.
 *
 * Result: 1 when marked, 0 when the record is no longer that in-flight record.
 */
export const watchScript = `${owned}${rewrite}
local record = owned(ARGV[1])
if not record then return 0 end
if not record.watched then rewrite(record, record.written, true) end
return 1
`;

/**
 * appendChunk — store one body chunk of an in-flight record in its own key, expiring
 * with the record so that an abandoned stream never leaks.
 *
 * ARGV[1] fence; ARGV[2] chunk index; ARGV[3] chunk bytes.
 *
 * Result: 1 when stored, 0 when the caller is not the owner.
 */
export const appendChunkScript = `${owned}${rewrite}
local record = owned(ARGV[1])
if not record then return 0 end
local index = tonumber(ARGV[2])
-- At the moment the record expires, GET still finds it while PTTL says 0: a chunk stored
-- then would outlive it.
local left = redis.call('PTTL', KEYS[1])
if left > 0 then redis.call('SET', KEYS[2] .. index, ARGV[3], 'PX', left)
elseif left == -1 then redis.call('SET', KEYS[2] .. index, ARGV[3])
else return 0 end
if index >= record.written then rewrite(record, index + 1, record.watched) end
return 1
`;

/**
 * complete — turn an in-flight record into a completed one: store the final chunk, move
 * chunk 0 into the record, delete chunks at or above the chunk count, and expire record
 * and chunks after the TTL; publish the change when a duplicate watches the record (see
 * `watchScript`).
 *
 * ARGV[1] fence; ARGV[2] chunk count; ARGV[3] TTL (ms, ≥ 1);
 * ARGV[4] final chunk bytes (chunk `count - 1`; ignored when the count is 0);
 * ARGV[5] and ARGV[6] the parts of the completed value before the fingerprint and after
 * it (see `completionParts`); ARGV[7] (optional) the fingerprint, replacing the claim's.
 *
 * Result: 1 when completed, 0 when the caller is not the owner.
 */
export const completeScript = `${owned}${deleteChunks}${publishChange}
local record = owned(ARGV[1])
if not record then return 0 end
local count = tonumber(ARGV[2])
local ttl = ARGV[3]
local first = ''
if count == 1 then first = ARGV[4]
elseif count > 1 then first = redis.call('GET', KEYS[2] .. '0') or '' end
if record.written > 0 then redis.call('DEL', KEYS[2] .. '0') end
delete_chunks(math.max(count, 1), record.written - 1)
local fingerprint = ARGV[7]
  or string.sub(record.value, record.fingerprint_at, record.fingerprint_at + tonumber(record.fingerprint_length) - 1)
redis.call('SET', KEYS[1], 'c' .. record.created .. ',' .. ARGV[5] .. #fingerprint .. ':' .. fingerprint
  .. ARGV[6] .. first, 'PX', ttl)
-- After the record, so that no chunk expires before it.
if count > 1 then redis.call('SET', KEYS[2] .. (count - 1), ARGV[4], 'PX', ttl) end
for i = 1, count - 2 do redis.call('PEXPIRE', KEYS[2] .. i, ttl) end
if record.watched then publish_change() end
return 1
`;

/**
 * readChunk — read body chunk `ARGV[1]` (≥ 1) of a completed record; chunk 0 is in the
 * record itself.
 *
 * Result: the chunk bytes, or nil when the record is not completed or has no such chunk
 * (completion deleted every chunk at or above its count).
 */
export const readChunkScript = `
if redis.call('GETRANGE', KEYS[1], 0, 0) ~= 'c' then return false end
return redis.call('GET', KEYS[2] .. ARGV[1])
`;

/**
 * delete — delete a record in either state, with its chunks (for tooling).
 *
 * Result: 1 when a record was deleted, 0 when there was none.
 */
export const deleteScript = `${deleteChunks}
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
if string.sub(value, 1, 1) == 'i' then
  local token_length, at = string.match(value, '^i(%d+):()')
  local written = at and string.match(value, '^%d+,%d+,(%d+),', at + tonumber(token_length))
  delete_chunks(0, (tonumber(written) or 0) - 1)
else
  local count = string.match(value, '^c%d+,%d+,%d+,(%d+),')
  delete_chunks(1, (tonumber(count) or 1) - 1)
end
redis.call('DEL', KEYS[1])
return 1
`;
