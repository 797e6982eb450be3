import { CorruptRecordError } from "../../core/errors.js";
import type { CompletionInput, RecordRef } from "../../store.js";
import { encodeHeaders, type RecordRow } from "../record-codec.js";

/**
 * The `meta` field of a completed Redis record: every field a replay needs but chunk 0,
 * in one string, so that a replay reads and returns three values instead of a dozen
 * (Redis spends most of a small script's time converting values between Lua and its
 * replies). The `complete` script writes it as
 *
 *     created_at,completed_at,expires_at,chunk_count,status,body_length,body_omitted,N,<fingerprint><headers>
 *
 * where N is the fingerprint's length in bytes and the headers are JSON; the numbers come
 * first so that a script can read expiry and chunk count with one pattern.
 *
 * @module
 */

/** The number of comma-terminated fields before the fingerprint. */
const NUMBERS = 8;
const COMMA = 0x2c;

/** The `status,body_length,body_omitted` part of the meta and the headers, as `complete` sends them. */
export function metaArguments(response: CompletionInput["response"]): [string, string] {
  return [
    `${response.status},${response.bodyLength},${response.bodyOmitted ? 1 : 0}`,
    encodeHeaders(response.headers),
  ];
}

/**
 * The record row a meta stands for; `decodeRecordRow` checks each field.
 * @throws {CorruptRecordError} when the meta is not in the shape above
 */
export function decodeMeta(ref: RecordRef, meta: Buffer): RecordRow {
  const numbers: string[] = [];
  let at = 0;
  for (let i = 0; i < NUMBERS; i++) {
    const comma = meta.indexOf(COMMA, at);
    if (comma < 0) break;
    numbers.push(meta.toString("latin1", at, comma));
    at = comma + 1;
  }
  const [createdAt, completedAt, expiresAt, chunkCount, status, bodyLength, bodyOmitted, length] = numbers;
  const end = at + Number(length);
  if (numbers.length < NUMBERS || !/^\d+$/.test(length ?? "") || end > meta.length) {
    throw new CorruptRecordError(ref.scope, ref.key, "the completed record's meta is malformed");
  }
  return {
    state: "completed",
    fingerprint: meta.toString("utf8", at, end),
    token: undefined,
    created_at: createdAt,
    lease_expires_at: undefined,
    completed_at: completedAt,
    expires_at: expiresAt,
    status,
    headers: meta.toString("utf8", end),
    body_length: bodyLength,
    chunk_count: chunkCount,
    body_omitted: bodyOmitted,
  };
}
