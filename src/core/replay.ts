import type { CompletedRecord, HeaderPair, IdempotencyStore } from "../store.js";
import { OncelyError } from "./errors.js";
import { statusHasNoBody } from "./response-headers.js";

/**
 * The one header an encrypted record holds in the store (its value: the sealed real headers;
 * see `encryptStore`). A record that still has it when it reaches the engine was read without
 * the encryption keys, and must not be replayed.
 */
export const SEALED_HEADERS = "x-oncely-sealed";

/** True when `record` is an encrypted record read without decryption. */
export function isSealed(record: CompletedRecord): boolean {
  return record.response.headers[0]?.[0] === SEALED_HEADERS;
}

/** Header that marks a replay whose body exceeded `maxBodyBytes` and was not stored. */
export const BODY_OMITTED_HEADER = "x-idempotency-body-omitted";

/** A stored response, ready for an adapter to write. */
export interface Replay {
  readonly status: number;
  /** Stored headers plus the replay marker and `Content-Length`. */
  readonly headers: readonly HeaderPair[];
  /** The body bytes, chunk by chunk; reading fails if the record vanishes mid-replay. */
  readonly body: AsyncIterable<Uint8Array>;
}

/** Thrown while streaming a replay whose later chunks disappeared (expired or purged meanwhile). */
export class ReplayInterruptedError extends OncelyError {
  constructor(index: number) {
    super("ONCELY_REPLAY_INTERRUPTED", `stored body chunk ${index} vanished during the replay`);
  }
}

/**
 * Builds the replay of a completed record. A body that was too large to store is replayed
 * as the original status and headers with no body and `X-Idempotency-Body-Omitted: true`
 * (documented in docs/semantics.md).
 */
export function buildReplay(store: IdempotencyStore, record: CompletedRecord, replayHeader: string): Replay {
  const { response } = record;
  const headers: HeaderPair[] = [];
  for (const pair of response.headers) {
    if (response.bodyOmitted && pair[0] === "content-type") continue;
    headers.push(pair);
  }
  headers.push([replayHeader, "true"]);
  if (response.bodyOmitted) headers.push([BODY_OMITTED_HEADER, "true"]);
  if (!statusHasNoBody(response.status)) headers.push(["content-length", String(response.bodyLength)]);
  return { status: response.status, headers, body: readBody(store, record) };
}

/** The stored body of a completed record, chunk by chunk; fails if a later chunk vanished meanwhile. */
export async function* readBody(
  store: IdempotencyStore,
  record: CompletedRecord,
): AsyncGenerator<Uint8Array> {
  const { chunkCount } = record.response;
  if (chunkCount === 0) return;
  yield record.firstChunk;
  for (let index = 1; index < chunkCount; index++) {
    const chunk = await store.readChunk(record, index);
    if (!chunk) throw new ReplayInterruptedError(index);
    yield chunk;
  }
}
