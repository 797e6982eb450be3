import { CorruptRecordError } from "../core/errors.js";
import type { HeaderPair, IdempotencyRecord, RecordRef, StoredResponse } from "../store.js";

/**
 * The flat shape every persistent store writes a record as: SQL columns, Redis hash
 * fields. Numbers may come back as numbers or numeric strings (Redis, bigint columns);
 * {@link decodeRecordRow} accepts both and rejects anything else.
 */
export interface RecordRow {
  state: unknown;
  fingerprint: unknown;
  token: unknown;
  created_at: unknown;
  lease_expires_at: unknown;
  completed_at: unknown;
  expires_at: unknown;
  status: unknown;
  headers: unknown;
  body_length: unknown;
  chunk_count: unknown;
  body_omitted: unknown;
}

/** Serialises response headers for a text column or hash field. */
export function encodeHeaders(headers: readonly HeaderPair[]): string {
  return JSON.stringify(headers);
}

/**
 * Turns a stored row back into a record, checking every field, so that a damaged or
 * foreign row surfaces as a {@link CorruptRecordError} instead of a wrong replay.
 */
export function decodeRecordRow(
  ref: RecordRef,
  row: RecordRow,
  firstChunk: Uint8Array | undefined,
): IdempotencyRecord {
  const fail = (reason: string): never => {
    throw new CorruptRecordError(ref.scope, ref.key, reason);
  };
  const fingerprint =
    typeof row.fingerprint === "string" ? row.fingerprint : fail("fingerprint is not a string");
  const createdAt = integer(row.created_at) ?? fail("created_at is not an integer");
  if (row.state === "in_flight") {
    return {
      state: "in_flight",
      scope: ref.scope,
      key: ref.key,
      fingerprint,
      token: typeof row.token === "string" && row.token !== "" ? row.token : fail("token is missing"),
      createdAt,
      leaseExpiresAt: integer(row.lease_expires_at) ?? fail("lease_expires_at is not an integer"),
    };
  }
  if (row.state !== "completed") {
    // Only a string is quoted: JSON.stringify and String() throw on some values (a bigint, an
    // object without a prototype), and a damaged row must still give a CorruptRecordError.
    const shown = typeof row.state === "string" ? JSON.stringify(row.state) : `of type ${typeof row.state}`;
    return fail(`unknown state ${shown}`);
  }
  const response: StoredResponse = {
    status: statusCode(row.status) ?? fail("status is not an HTTP status"),
    headers: decodeHeaders(row.headers) ?? fail("headers are not a list of name/value pairs"),
    bodyLength: integer(row.body_length) ?? fail("body_length is not an integer"),
    chunkCount: integer(row.chunk_count) ?? fail("chunk_count is not an integer"),
    bodyOmitted: bool(row.body_omitted) ?? fail("body_omitted is not a boolean"),
  };
  if (response.chunkCount > 0 && firstChunk === undefined) fail("body chunk 0 is missing");
  return {
    state: "completed",
    scope: ref.scope,
    key: ref.key,
    fingerprint,
    createdAt,
    completedAt: integer(row.completed_at) ?? fail("completed_at is not an integer"),
    expiresAt: integer(row.expires_at) ?? fail("expires_at is not an integer"),
    response,
    firstChunk: response.chunkCount > 0 && firstChunk ? firstChunk : new Uint8Array(0),
  };
}

function integer(value: unknown): number | undefined {
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  return typeof number === "number" && Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

function statusCode(value: unknown): number | undefined {
  const status = integer(value);
  return status !== undefined && status >= 100 && status <= 999 ? status : undefined;
}

function bool(value: unknown): boolean | undefined {
  if (value === true || value === 1 || value === "1" || value === "true") return true;
  if (value === false || value === 0 || value === "0" || value === "false") return false;
  return undefined;
}

function decodeHeaders(value: unknown): HeaderPair[] | undefined {
  let parsed: unknown;
  try {
    parsed = typeof value === "string" ? JSON.parse(value) : value;
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const pairs: HeaderPair[] = [];
  for (const item of parsed) {
    if (
      !Array.isArray(item) ||
      item.length !== 2 ||
      typeof item[0] !== "string" ||
      typeof item[1] !== "string"
    ) {
      return undefined;
    }
    pairs.push([item[0], item[1]]);
  }
  return pairs;
}
