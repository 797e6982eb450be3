/**
 * The store conformance suite: the behaviour every {@link IdempotencyStore} must show,
 * written against the contract in `src/store.ts` and runnable under any test framework.
 *
 * @module
 */
import type { IdempotencyStore, RecordRef } from "../store.js";
import { registerCompletionTests } from "./conformance-bodies.js";
import { registerClaimTests } from "./conformance-claims.js";
import { type StoreTest, TEST_TIMEOUT_MS } from "./conformance-helpers.js";
import { registerInspectionTests } from "./conformance-inspection.js";
import { registerLifecycleTests } from "./conformance-lifecycle.js";

/** Options of {@link storeConformanceSuite}. */
export interface StoreConformanceOptions {
  /** Names the suite in the test report. */
  name: string;
  /**
   * Returns a fresh store: empty, and isolated from every other store this function
   * returns (its own file, database or key prefix). Each test calls it once and closes
   * the store when done. Its background purge, if any, should not run more often than
   * every few seconds, or it may delete lapsed leases that a test still expects.
   */
  create(): IdempotencyStore | Promise<IdempotencyStore>;
  /**
   * Overwrites the stored record of `ref` with malformed data, as damage or a foreign
   * writer would. Stores that serialise records should pass it: the suite then checks
   * that such a record is rejected with a `CorruptRecordError` rather than replayed.
   * Without it, no such test is registered.
   */
  corrupt?(store: IdempotencyStore, ref: RecordRef): Promise<void>;
  /**
   * Set for backends that delete records by themselves at expiry (Redis key TTLs): an
   * expired record is then simply gone, so replacing it is not a takeover and
   * `purgeExpired` has nothing left to count. The suite checks that instead.
   * @default false
   */
  expiresByItself?: boolean;
  /** The framework's `describe`. */
  describe(name: string, fn: () => void): void;
  /** The framework's `it`, taking a timeout as third argument (vitest, jest; wrap node:test's). */
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

/**
 * Registers the conformance tests for a store implementation. Every test opens its own
 * store with `create()`, uses random keys, and closes the store at the end. The suite
 * asserts with `node:assert` and takes `describe`/`it` from the caller, so it runs under
 * vitest, jest or node:test (for node:test pass `it: (name, fn, timeout) => it(name, { timeout }, fn)`).
 *
 * Stores that also implement `InspectableStore` (`list`, `delete`) get those checked
 * too; for other stores the inspection tests pass without checking anything.
 *
 * @param options the store factory, the optional `corrupt` hook and the framework's `describe`/`it`
 *
 * @example
 * // test/my-store.test.ts
 * import { describe, it } from "vitest";
 * import { storeConformanceSuite } from "oncely/testing";
 * import { createMyStore } from "../src/my-store.js";
 *
 * storeConformanceSuite({
 *   name: "MyStore",
 *   create: () => createMyStore({ prefix: `test-${crypto.randomUUID()}:` }),
 *   describe,
 *   it,
 * });
 */
export function storeConformanceSuite(options: StoreConformanceOptions): void {
  const { describe, it } = options;
  const test: StoreTest = (title, body, timeoutMs = TEST_TIMEOUT_MS) =>
    it(title, () => withStore(options, body), timeoutMs);
  const context = { describe, test };

  describe(`${options.name} conforms to the store contract`, () => {
    registerClaimTests(context);
    registerCompletionTests(context);
    registerLifecycleTests(context, options);
    registerInspectionTests(context);
  });
}

async function withStore(
  options: StoreConformanceOptions,
  body: (store: IdempotencyStore) => Promise<void>,
): Promise<void> {
  const store = await options.create();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}
