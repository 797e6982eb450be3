/**
 * How the memory store keeps a record, and the records it hands out.
 * @module
 */
import type { CompletedRecord, HeaderPair, InFlightRecord, RecordRef } from "../../store.js";

/** An in-flight record as kept: what its claim said, and the body chunks appended so far, by index. */
export interface InFlightEntry {
  readonly fingerprint: string;
  readonly token: string;
  readonly createdAt: number;
  leaseExpiresAt: number;
  chunks: Uint8Array[] | undefined;
  /** Counted against `maxBytes`. */
  bytes: number;
}

/**
 * A completed record as kept: few objects (headers as one flat list of names and values),
 * since a busy store holds many of them for every garbage collection to walk.
 */
export interface CompletedEntry {
  readonly fingerprint: string;
  readonly createdAt: number;
  readonly completedAt: number;
  readonly expiresAt: number;
  readonly status: number;
  /** Names and values, alternating. */
  readonly headers: readonly string[];
  readonly bodyLength: number;
  readonly bodyOmitted: boolean;
  readonly chunkCount: number;
  /** Body chunk 0; undefined when there is none. */
  readonly firstChunk: Uint8Array | undefined;
  /** Body chunks 1 … chunkCount-1; undefined for a body of one chunk at most (most are). */
  readonly laterChunks: readonly (Uint8Array | undefined)[] | undefined;
  readonly bytes: number;
}

/** A record's map key, listing order and cursor: the scope's length up front keeps `("a:b", "c")` and `("a", "b:c")` apart. */
export function recordId({ scope, key }: RecordRef): string {
  return `${scope.length}:${scope}:${key}`;
}

/** The scope and key a {@link recordId} was made of. */
export function refOf(id: string): RecordRef {
  const colon = id.indexOf(":");
  const start = colon + 1;
  const length = Number(id.slice(0, colon));
  return { scope: id.slice(start, start + length), key: id.slice(start + length + 1) };
}

/** A copy of bytes to keep: from Node's shared pool when small, so that a record costs no buffer of its own. */
export function copy(bytes: Uint8Array): Uint8Array {
  return Buffer.from(bytes);
}

export function inFlightRecord({ scope, key }: RecordRef, entry: InFlightEntry): InFlightRecord {
  const { fingerprint, token, createdAt, leaseExpiresAt } = entry;
  return { state: "in_flight", scope, key, fingerprint, token, createdAt, leaseExpiresAt };
}

/** A completed record the caller may keep and change freely. */
export function completedRecord({ scope, key }: RecordRef, entry: CompletedEntry): CompletedRecord {
  const headers: HeaderPair[] = [];
  for (let i = 0; i < entry.headers.length; i += 2) {
    headers.push([entry.headers[i] as string, entry.headers[i + 1] as string]);
  }
  const first = entry.firstChunk;
  return {
    state: "completed",
    scope,
    key,
    fingerprint: entry.fingerprint,
    createdAt: entry.createdAt,
    completedAt: entry.completedAt,
    expiresAt: entry.expiresAt,
    response: {
      status: entry.status,
      headers,
      bodyLength: entry.bodyLength,
      chunkCount: entry.chunkCount,
      bodyOmitted: entry.bodyOmitted,
    },
    firstChunk: first ? new Uint8Array(first) : new Uint8Array(0),
  };
}
