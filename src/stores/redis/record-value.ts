import { CorruptRecordError } from "../../core/errors.js";
import type { CompletionInput, Lease, RecordRef } from "../../store.js";
import { encodeHeaders, type RecordRow } from "../record-codec.js";

/**
 * A Redis record is one string, so that a claim is the plain command
 * `SET record <in-flight value> NX GET PX <lease + grace>`: it either creates the
 * in-flight record or returns the one that is there, and a replay costs Redis one
 * native command instead of a script. Two shapes, told apart by the first byte:
 *
 *     i<T>:<token><grace>,<created_at>,<chunks_written>,<watched>,<F>:<fingerprint><S>:<scope><key>
 *     c<created_at>,<completed_at>,<expires_at>,<chunk_count>,<status>,<body_length>,<body_omitted>,<F>:<fingerprint><H>:<headers><S>:<scope><K>:<key><chunk 0>
 *
 * where a capital letter is the byte length of what follows its colon. The in-flight
 * prefix `i<T>:<token>` is the fence: a script owns the record when the value starts
 * with it. The lease is not written down: the key's own expiry is lease plus `grace`, so
 * the lease is live while the key's remaining time exceeds `grace`, on the Redis
 * server's clock. The times written in the value come from the application's clock and
 * are for reading only; Redis expiry alone decides what is live.
 *
 * @module
 */

/** `i<T>:<token>`: what an owner's value starts with. */
export function fenceOf(lease: Pick<Lease, "token">): string {
  return `i${Buffer.byteLength(lease.token)}:${lease.token}`;
}

/** The value a claim writes. */
export function inFlightValue(
  claim: RecordRef & { readonly token: string; readonly fingerprint: string },
  grace: number,
  now: number,
): string {
  return `${fenceOf(claim)}${grace},${now},0,0,${sized(claim.fingerprint)}${sized(claim.scope)}${claim.key}`;
}

/**
 * The parts of a completed value that the `complete` script does not take from the
 * in-flight value: `<completed_at>,<expires_at>,<chunk_count>,<status>,<body_length>,<body_omitted>,`
 * and `<H>:<headers><S>:<scope><K>:<key>`.
 */
export function completionParts(lease: Lease, input: CompletionInput, now: number): [string, string] {
  const { response } = input;
  const ttl = Math.max(1, Math.ceil(input.ttlMs));
  return [
    `${now},${now + ttl},${response.chunkCount},${response.status},${response.bodyLength},${response.bodyOmitted ? 1 : 0},`,
    `${sized(encodeHeaders(response.headers))}${sized(lease.scope)}${sized(lease.key)}`,
  ];
}

/** A record value read back, with the row `decodeRecordRow` checks. */
export interface DecodedValue {
  readonly ref: RecordRef;
  readonly row: RecordRow;
  readonly firstChunk: Uint8Array | undefined;
}

/**
 * Decodes a record value; `leaseExpiresAt` is the lease's end on the server clock, which
 * scripts compute for in-flight records. Without `ref` (listing), scope and key come from
 * the value.
 * @throws {CorruptRecordError} when the value is not in either shape
 */
export function decodeValue(
  ref: RecordRef | undefined,
  value: Buffer,
  leaseExpiresAt?: unknown,
): DecodedValue {
  const reader = new ValueReader(value, ref);
  const shape = value[0];
  if (shape === IN_FLIGHT) {
    reader.skip(1);
    const token = reader.sized();
    const [, createdAt] = reader.numbers(4);
    const fingerprint = reader.sized();
    const scope = reader.sized();
    const key = reader.rest().toString("utf8");
    return {
      ref: ref ?? { scope, key },
      row: {
        state: "in_flight",
        fingerprint,
        token,
        created_at: createdAt,
        lease_expires_at: String(leaseExpiresAt),
        completed_at: undefined,
        expires_at: undefined,
        status: undefined,
        headers: undefined,
        body_length: undefined,
        chunk_count: undefined,
        body_omitted: undefined,
      },
      firstChunk: undefined,
    };
  }
  if (shape !== COMPLETED) reader.fail("the record value is in no known shape");
  reader.skip(1);
  const [createdAt, completedAt, expiresAt, chunkCount, status, bodyLength, bodyOmitted] = reader.numbers(7);
  const fingerprint = reader.sized();
  const headers = reader.sized();
  const scope = reader.sized();
  const key = reader.sized();
  const chunk = reader.rest();
  return {
    ref: ref ?? { scope, key },
    row: {
      state: "completed",
      fingerprint,
      token: undefined,
      created_at: createdAt,
      lease_expires_at: undefined,
      completed_at: completedAt,
      expires_at: expiresAt,
      status,
      headers,
      body_length: bodyLength,
      chunk_count: chunkCount,
      body_omitted: bodyOmitted,
    },
    firstChunk: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
  };
}

/** True when a value is a completed record's: a replay, decoded without a second read. */
export function isCompletedValue(value: Buffer): boolean {
  return value[0] === COMPLETED;
}

const IN_FLIGHT = "i".charCodeAt(0);
const COMPLETED = "c".charCodeAt(0);
const COMMA = ",".charCodeAt(0);
const COLON = ":".charCodeAt(0);

function sized(text: string): string {
  return `${Buffer.byteLength(text)}:${text}`;
}

/** Reads a value front to back; every misstep is a {@link CorruptRecordError}. */
class ValueReader {
  #at = 0;
  readonly #value: Buffer;
  readonly #ref: RecordRef | undefined;

  constructor(value: Buffer, ref: RecordRef | undefined) {
    this.#value = value;
    this.#ref = ref;
  }

  skip(bytes: number): void {
    this.#at += bytes;
  }

  /** `count` comma-terminated decimal numbers, as strings. */
  numbers(count: number): string[] {
    const numbers: string[] = [];
    for (let i = 0; i < count; i++) numbers.push(this.#until(COMMA));
    return numbers;
  }

  /** A `<length>:<bytes>` field, as UTF-8 text. */
  sized(): string {
    const length = this.#until(COLON);
    const end = this.#at + Number(length);
    if (end > this.#value.length) this.fail("a field of the record value runs past its end");
    const text = this.#value.toString("utf8", this.#at, end);
    this.#at = end;
    return text;
  }

  rest(): Buffer {
    return this.#value.subarray(this.#at);
  }

  fail(reason: string): never {
    throw new CorruptRecordError(this.#ref?.scope ?? "", this.#ref?.key ?? "", reason);
  }

  #until(separator: number): string {
    const end = this.#value.indexOf(separator, this.#at);
    const digits = end < 0 ? "" : this.#value.toString("latin1", this.#at, end);
    if (!/^\d+$/.test(digits)) this.fail("the record value is malformed");
    this.#at = end + 1;
    return digits;
  }
}
