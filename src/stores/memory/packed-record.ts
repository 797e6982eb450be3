import type { CompletedRecord, HeaderPair, RecordRef } from "../../store.js";

/**
 * A completed record packed into one byte array: everything but its later body chunks.
 *
 * Why: the memory store keeps every completed record for its TTL (24 h by default), so a
 * busy process holds hundreds of thousands of them. Kept as objects, each is some twenty
 * heap objects (the record, the response, an array per header, strings, timestamps, the
 * body) that every garbage collection must walk, copy or mark; packed, it is a run of
 * bytes in a slab (see record-arena.ts), which the collector never scans.
 *
 * Layout (little-endian): expiresAt, createdAt, completedAt and bodyLength as float64;
 * chunkCount as uint32; status as uint16; a flags byte; a padding byte; where body chunk
 * 0 starts, as uint32; then the fingerprint and each header name and value as a uint32
 * byte length and its UTF-8 bytes, after a uint32 header count; then body chunk 0, to
 * the end of the array.
 */
export type PackedRecord = Buffer;

/** What a packed record holds: a completed record without its scope and key (the store's map has them). */
export type PackedFields = Omit<CompletedRecord, "state" | "scope" | "key" | "firstChunk"> & {
  /** Body chunk 0; undefined when the record has none. */
  readonly firstChunk: Uint8Array | undefined;
};

const EXPIRES_AT = 0;
const CREATED_AT = 8;
const COMPLETED_AT = 16;
const BODY_LENGTH = 24;
const CHUNK_COUNT = 32;
const STATUS = 36;
const FLAGS = 38;
const BODY = 40;
const STRINGS = 44;

const BODY_OMITTED = 1;
const HAS_FIRST_CHUNK = 2;

/** How many bytes {@link packInto} writes for these fields. */
export function packedLength(fields: PackedFields): number {
  const { response, firstChunk } = fields;
  let size = STRINGS + 8 + Buffer.byteLength(fields.fingerprint) + (firstChunk?.byteLength ?? 0);
  for (const [name, value] of response.headers)
    size += 8 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/**
 * Packs a completed record into `packed`, which must be exactly {@link packedLength} bytes
 * long; the bytes are copied, so the caller may reuse its arrays.
 */
export function packInto(packed: Buffer, fields: PackedFields): void {
  const { response, firstChunk } = fields;
  packed.writeDoubleLE(fields.expiresAt, EXPIRES_AT);
  packed.writeDoubleLE(fields.createdAt, CREATED_AT);
  packed.writeDoubleLE(fields.completedAt, COMPLETED_AT);
  packed.writeDoubleLE(response.bodyLength, BODY_LENGTH);
  packed.writeUInt32LE(response.chunkCount, CHUNK_COUNT);
  packed.writeUInt16LE(response.status, STATUS);
  packed[FLAGS] = (response.bodyOmitted ? BODY_OMITTED : 0) | (firstChunk ? HAS_FIRST_CHUNK : 0);
  packed[FLAGS + 1] = 0;
  let offset = writeString(packed, STRINGS, fields.fingerprint);
  offset = packed.writeUInt32LE(response.headers.length, offset);
  for (const [name, value] of response.headers)
    offset = writeString(packed, writeString(packed, offset, name), value);
  packed.writeUInt32LE(offset, BODY);
  if (firstChunk) packed.set(firstChunk, offset);
}

/** When a packed record expires, in epoch milliseconds. */
export function packedExpiresAt(packed: PackedRecord): number {
  return packed.readDoubleLE(EXPIRES_AT);
}

/** Unpacks a record into objects the caller owns (its body bytes are a copy). */
export function unpackRecord(ref: RecordRef, packed: PackedRecord): CompletedRecord {
  const fingerprint = readString(packed, STRINGS);
  let offset = fingerprint.end;
  const count = packed.readUInt32LE(offset);
  offset += 4;
  const headers: HeaderPair[] = [];
  for (let i = 0; i < count; i++) {
    const name = readString(packed, offset);
    const value = readString(packed, name.end);
    headers.push([name.text, value.text]);
    offset = value.end;
  }
  return {
    state: "completed",
    scope: ref.scope,
    key: ref.key,
    fingerprint: fingerprint.text,
    createdAt: packed.readDoubleLE(CREATED_AT),
    completedAt: packed.readDoubleLE(COMPLETED_AT),
    expiresAt: packed.readDoubleLE(EXPIRES_AT),
    response: {
      status: packed.readUInt16LE(STATUS),
      headers,
      bodyLength: packed.readDoubleLE(BODY_LENGTH),
      chunkCount: packed.readUInt32LE(CHUNK_COUNT),
      bodyOmitted: ((packed[FLAGS] as number) & BODY_OMITTED) !== 0,
    },
    firstChunk: Uint8Array.prototype.slice.call(packed, offset),
  };
}

/** A copy of body chunk 0, or undefined when the record has none. */
export function packedFirstChunk(packed: PackedRecord): Uint8Array | undefined {
  if (((packed[FLAGS] as number) & HAS_FIRST_CHUNK) === 0) return undefined;
  return Uint8Array.prototype.slice.call(packed, packed.readUInt32LE(BODY));
}

function writeString(packed: Buffer, offset: number, text: string): number {
  const length = packed.write(text, offset + 4);
  packed.writeUInt32LE(length, offset);
  return offset + 4 + length;
}

function readString(packed: Buffer, offset: number): { text: string; end: number } {
  const start = offset + 4;
  const end = start + packed.readUInt32LE(offset);
  return { text: packed.toString("utf8", start, end), end };
}
