/**
 * Building blocks of the store conformance suite: timings, record builders and
 * assertions shared by its test groups. Internal to `oncely/testing`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import type {
  ClaimInput,
  ClaimResult,
  IdempotencyRecord,
  IdempotencyStore,
  Lease,
  RecordRef,
  StoredResponse,
} from "../store.js";

/** Registers one test that receives a fresh store and closes it afterwards. */
export type StoreTest = (
  title: string,
  body: (store: IdempotencyStore) => Promise<void>,
  timeoutMs?: number,
) => void;

/** What a test group needs to register its tests. */
export interface SuiteContext {
  describe(name: string, fn: () => void): void;
  test: StoreTest;
}

/** Leases and lifetimes that must not run out during a test. */
export const LONG_MS = 60_000;
/** Leases and lifetimes that a test waits out with {@link LAPSE_WAIT_MS}. */
export const SHORT_MS = 50;
export const LAPSE_WAIT_MS = 150;
/** Slack when comparing two timestamps taken by the store's clock during one test. */
export const CLOCK_SLACK_MS = 2_000;
export const TEST_TIMEOUT_MS = 15_000;

/** A reference no other test uses, even against a backend shared with earlier runs. */
export function freshRef(): RecordRef {
  return { scope: `scope-${randomUUID()}`, key: `key-${randomUUID()}` };
}

export function claimInput(
  ref: RecordRef,
  overrides: Partial<Omit<ClaimInput, "scope" | "key">> = {},
): ClaimInput {
  return {
    scope: ref.scope,
    key: ref.key,
    fingerprint: "fp-original",
    token: randomUUID(),
    leaseMs: LONG_MS,
    ...overrides,
  };
}

export async function acquire(store: IdempotencyStore, input: ClaimInput): Promise<Lease> {
  return expectOutcome(await store.claim(input), "acquired").lease;
}

export function responseFor(
  chunks: readonly Uint8Array[],
  overrides: Partial<StoredResponse> = {},
): StoredResponse {
  const bodyLength = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  return {
    status: 200,
    headers: [["content-type", "application/octet-stream"]],
    bodyLength,
    chunkCount: chunks.length,
    bodyOmitted: false,
    ...overrides,
  };
}

/** Stores `chunks` the way the engine does: all but the last with appendChunk, the last inside complete. */
export async function completeWith(
  store: IdempotencyStore,
  lease: Lease,
  chunks: readonly Uint8Array[],
  { ttlMs = LONG_MS }: { ttlMs?: number } = {},
): Promise<void> {
  for (const [index, chunk] of chunks.slice(0, -1).entries()) {
    assert.equal(await store.appendChunk(lease, index, chunk), true, `appendChunk ${index} by the owner`);
  }
  const finalChunk = chunks.at(-1) ?? new Uint8Array(0);
  assert.equal(await store.complete(lease, { response: responseFor(chunks), finalChunk, ttlMs }), true);
}

export function expectOutcome<O extends ClaimResult["outcome"]>(
  result: ClaimResult,
  outcome: O,
): Extract<ClaimResult, { outcome: O }> {
  assert.equal(result.outcome, outcome, `claim returned ${result.outcome}, expected ${outcome}`);
  return result as Extract<ClaimResult, { outcome: O }>;
}

export function expectState<S extends IdempotencyRecord["state"]>(
  record: IdempotencyRecord | undefined,
  state: S,
): Extract<IdempotencyRecord, { state: S }> {
  assert.equal(record?.state, state, `get returned ${record?.state ?? "undefined"}, expected ${state}`);
  return record as Extract<IdempotencyRecord, { state: S }>;
}

/** Compares bytes through a digest, so a mismatch in a megabyte chunk gives a one-line message. */
export function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: expected bytes, got ${String(actual)}`);
  assert.equal(
    digest(actual),
    digest(expected),
    `${what}: the ${actual.byteLength} bytes read differ from the ${expected.byteLength} bytes written`,
  );
}

export function assertNear(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= CLOCK_SLACK_MS,
    `${what} is ${actual} ms, expected ${expected} ms`,
  );
}

export function isCorruptRecordError(ref: RecordRef): (error: unknown) => true {
  return (error) => {
    const { code, scope, key } = (error ?? {}) as { code?: unknown; scope?: unknown; key?: unknown };
    assert.equal(code, "ONCELY_CORRUPT_RECORD", `expected a CorruptRecordError, got ${String(error)}`);
    assert.deepEqual([scope, key], [ref.scope, ref.key], "the error names the damaged record");
    return true;
  };
}

/**
 * How a store call settles, with "hung" when it does neither within `ms`. The contract
 * is async only: a call that throws instead of rejecting, or answers with something
 * other than a promise, says so.
 */
export async function settleWithin(
  call: () => unknown,
  ms: number,
): Promise<"resolved" | "rejected" | "hung" | "threw" | "not a promise"> {
  let answer: unknown;
  try {
    answer = call();
  } catch {
    return "threw";
  }
  if (!(answer instanceof Promise)) return "not a promise";
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), ms);
  });
  const settled = answer.then(
    () => "resolved" as const,
    () => "rejected" as const,
  );
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function digest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
