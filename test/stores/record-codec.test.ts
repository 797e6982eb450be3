// Decoding of stored record rows (src/stores/record-codec.ts), property-based: every record
// survives the rows the persistent stores write (numbers as numbers, as SQLite and PostgreSQL
// return them, or as strings, as Redis does), and any other row is either a well-formed record
// or a CorruptRecordError, never a crash or a record that breaks the contract's invariants.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CorruptRecordError } from "../../src/core/errors.js";
import type { IdempotencyRecord } from "../../src/store.js";
import { decodeRecordRow, encodeHeaders, type RecordRow } from "../../src/stores/record-codec.js";

const ref = { scope: "scope", key: "key" };
const refArbitraries = { scope: fc.constant(ref.scope), key: fc.constant(ref.key) };
const time = fc.nat({ max: 2 ** 45 });
const headerText = fc.string({ unit: "binary", maxLength: 12 });
const inFlight = fc.record({
  state: fc.constant("in_flight" as const),
  ...refArbitraries,
  fingerprint: fc.string(),
  token: fc.string({ minLength: 1 }),
  createdAt: time,
  leaseExpiresAt: time,
});
const completed = fc
  .record({
    state: fc.constant("completed" as const),
    ...refArbitraries,
    fingerprint: fc.string(),
    createdAt: time,
    completedAt: time,
    expiresAt: time,
    status: fc.integer({ min: 100, max: 999 }),
    headers: fc.array(fc.tuple(headerText, headerText), { maxLength: 4 }),
    bodyLength: fc.nat(),
    chunkCount: fc.nat(5),
    bodyOmitted: fc.boolean(),
    firstChunk: fc.uint8Array({ maxLength: 16 }),
  })
  .map(({ status, headers, bodyLength, chunkCount, bodyOmitted, firstChunk, ...rest }) => ({
    ...rest,
    response: { status, headers, bodyLength, chunkCount, bodyOmitted },
    firstChunk: chunkCount > 0 ? firstChunk : new Uint8Array(0),
  }));
const record: fc.Arbitrary<IdempotencyRecord> = fc.oneof(inFlight, completed);

/** The row a store writes for `record`, numbers as numbers or as decimal strings. */
function rowOf(record: IdempotencyRecord, asStrings: boolean): RecordRow {
  const n = (value: number | undefined) => (value === undefined ? null : asStrings ? String(value) : value);
  const completedRecord = record.state === "completed" ? record : undefined;
  const response = completedRecord?.response;
  return {
    state: record.state,
    fingerprint: record.fingerprint,
    token: record.state === "in_flight" ? record.token : null,
    created_at: n(record.createdAt),
    lease_expires_at: n(record.state === "in_flight" ? record.leaseExpiresAt : undefined),
    completed_at: n(completedRecord?.completedAt),
    expires_at: n(completedRecord?.expiresAt),
    status: n(response?.status),
    headers: response ? encodeHeaders(response.headers) : null,
    body_length: n(response?.bodyLength),
    chunk_count: n(response?.chunkCount),
    body_omitted: response ? (asStrings ? (response.bodyOmitted ? "1" : "0") : response.bodyOmitted) : null,
  };
}

/** What the Store contract promises of any record a store hands out. */
function wellFormed(decoded: IdempotencyRecord): void {
  const isTime = (value: number) => Number.isSafeInteger(value) && value >= 0;
  expect(isTime(decoded.createdAt)).toBe(true);
  if (decoded.state === "in_flight") {
    expect(decoded.token).not.toBe("");
    expect(isTime(decoded.leaseExpiresAt)).toBe(true);
    return;
  }
  const { response } = decoded;
  expect(response.status >= 100 && response.status <= 999 && Number.isInteger(response.status)).toBe(true);
  expect(
    [decoded.completedAt, decoded.expiresAt, response.bodyLength, response.chunkCount].every(isTime),
  ).toBe(true);
  expect(typeof response.bodyOmitted).toBe("boolean");
  expect(
    response.headers.every((pair) => pair.length === 2 && pair.every((part) => typeof part === "string")),
  ).toBe(true);
  if (response.chunkCount === 0) expect(decoded.firstChunk).toHaveLength(0);
}

describe("decodeRecordRow, property-based", () => {
  it("gives back every record from the row a store wrote for it", () => {
    fc.assert(
      fc.property(record, fc.boolean(), (original, asStrings) => {
        const firstChunk = original.state === "completed" ? original.firstChunk : undefined;
        expect(decodeRecordRow(ref, rowOf(original, asStrings), firstChunk)).toEqual(original);
      }),
      { numRuns: 2000 },
    );
  });

  it("turns any damaged field into a CorruptRecordError or a well-formed record", () => {
    const fields = Object.keys(
      rowOf(
        { ...ref, state: "in_flight", fingerprint: "", token: "t", createdAt: 0, leaseExpiresAt: 0 },
        false,
      ),
    );
    const junk = fc.oneof(
      fc.anything(),
      fc.constantFrom(
        "",
        " 1",
        "1.5",
        "1e3",
        "0x10",
        "-1",
        "9007199254740993",
        "[",
        "[[1,2]]",
        '[["a"]]',
        "null",
      ),
      fc.double(),
      fc.bigInt(),
    );
    fc.assert(
      fc.property(
        record,
        fc.boolean(),
        fc.constantFrom(...fields),
        junk,
        fc.option(fc.uint8Array()),
        (original, asStrings, field, value, chunk) => {
          const row = { ...rowOf(original, asStrings), [field]: value };
          let decoded: IdempotencyRecord;
          try {
            decoded = decodeRecordRow(ref, row, chunk ?? undefined);
          } catch (error) {
            expect(error).toBeInstanceOf(CorruptRecordError);
            expect(error).toMatchObject({ scope: ref.scope, key: ref.key, code: "ONCELY_CORRUPT_RECORD" });
            return;
          }
          wellFormed(decoded);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("refuses a completed record with body chunks but no chunk 0", () => {
    fc.assert(
      fc.property(completed, fc.boolean(), (original, asStrings) => {
        if (original.response.chunkCount === 0) return;
        expect(() => decodeRecordRow(ref, rowOf(original, asStrings), undefined)).toThrow(CorruptRecordError);
      }),
    );
  });
});
