import { CorruptRecordError } from "../core/errors.js";
import { DEFAULTS } from "../core/options.js";
import { readBody } from "../core/replay.js";
import type { CompletedRecord, HeaderPair, IdempotencyStore, Lease } from "../store.js";
import { toJsonText } from "./json.js";

/**
 * How a handler's result sits in a completed record. The store contract speaks HTTP, so
 * the status says which kind of result it is, in HTTP's own words:
 * - `200`: the handler returned a value; the body is its JSON text (`application/json`);
 * - `204`: the handler returned `undefined`; there is no body.
 * Any other status means the record was not written by `oncely/events` (for example by
 * the HTTP engine under the same scope) and is rejected as corrupt.
 */
export const RESULT_STATUS = { value: 200, none: 204 } as const;

const JSON_HEADERS: readonly HeaderPair[] = [["content-type", "application/json"]];
const EMPTY = new Uint8Array(0);

/** A result ready to be stored: checked and serialised before the record is touched. */
export interface EncodedResult {
  readonly status: number;
  readonly body: Uint8Array;
}

/** Serialises a handler's result; throws `NotSerializableError` for anything JSON would alter. */
export function encodeResult(value: unknown): EncodedResult {
  if (value === undefined) return { status: RESULT_STATUS.none, body: EMPTY };
  const text = toJsonText(value, "result", {
    sortKeys: false,
    undefinedItems: false,
    remedy: "return plain data only (a date as date.toISOString(), a Map as an object)",
  });
  return { status: RESULT_STATUS.value, body: Buffer.from(text, "utf8") };
}

/**
 * Completes the record owned by `lease` with `result`. Bodies above the store's chunk
 * size go in several chunks, as the store contract asks. False when the lease was lost
 * to another execution (the record then holds that execution's result).
 */
export async function recordResult(
  store: IdempotencyStore,
  lease: Lease,
  result: EncodedResult,
  ttlMs: number,
): Promise<boolean> {
  const { body, status } = result;
  const size = DEFAULTS.chunkBytes;
  const chunkCount = Math.ceil(body.length / size);
  for (let index = 0; index < chunkCount - 1; index++) {
    if (!(await store.appendChunk(lease, index, body.subarray(index * size, (index + 1) * size))))
      return false;
  }
  return store.complete(lease, {
    response: {
      status,
      headers: status === RESULT_STATUS.value ? JSON_HEADERS : [],
      bodyLength: body.length,
      chunkCount,
      bodyOmitted: false,
    },
    finalChunk: chunkCount > 0 ? body.subarray((chunkCount - 1) * size) : EMPTY,
    ttlMs,
  });
}

/** Reads the result a completed record holds, as the first execution's handler returned it. */
export async function readResult(store: IdempotencyStore, record: CompletedRecord): Promise<unknown> {
  const { status, bodyOmitted } = record.response;
  if (status === RESULT_STATUS.none) return undefined;
  if (status !== RESULT_STATUS.value || bodyOmitted) {
    throw new CorruptRecordError(record.scope, record.key, `status ${status} does not hold an event result`);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of readBody(store, record)) chunks.push(chunk);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new CorruptRecordError(record.scope, record.key, "the stored result is not JSON", { cause: error });
  }
}
