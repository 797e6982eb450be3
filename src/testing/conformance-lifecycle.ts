/**
 * Conformance tests of the end of records and stores: expiry, purging, damaged data and close().
 *
 * @module
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Lease } from "../store.js";
import {
  acquire,
  claimInput,
  completeWith,
  expectOutcome,
  freshRef,
  isCorruptRecordError,
  LAPSE_WAIT_MS,
  LONG_MS,
  responseFor,
  SHORT_MS,
  type SuiteContext,
  settleWithin,
  TEST_TIMEOUT_MS,
  utf8,
} from "./conformance-helpers.js";
import type { StoreConformanceOptions } from "./store-conformance.js";

/** How long a call on a closed store may take to reject before it counts as hung. */
const CLOSED_CALL_DEADLINE_MS = 5_000;

/** Expiry and purging; damaged records when the caller can damage them; use after close(). */
export function registerLifecycleTests(
  { describe, test }: SuiteContext,
  options: StoreConformanceOptions,
): void {
  // Bound, because the hook may be a method that uses `this`.
  const corrupt = options.corrupt?.bind(options);
  const expiresByItself = options.expiresByItself === true;

  describe("expiry", () => {
    test("a completed record expires after ttlMs and the key runs again", async (store) => {
      const ref = freshRef();
      await completeWith(store, await acquire(store, claimInput(ref)), [utf8("old")], { ttlMs: SHORT_MS });
      await sleep(LAPSE_WAIT_MS);
      assert.equal(await store.get(ref), undefined, "get of an expired record");
      assert.equal(await store.readChunk(ref, 0), undefined, "readChunk of an expired record");
      const { tookOver } = expectOutcome(await store.claim(claimInput(ref)), "acquired");
      // A backend that deletes expired records itself has nothing left to take over.
      assert.equal(tookOver, !expiresByItself, "replacing an expired record is a takeover");
      assert.equal(await store.readChunk(ref, 0), undefined, "the old body outlived the takeover");
    });

    test("purgeExpired deletes expired and lapsed records and keeps live ones", async (store) => {
      const [expired, lapsed, completed, inFlight] = [freshRef(), freshRef(), freshRef(), freshRef()];
      await completeWith(store, await acquire(store, claimInput(expired)), [utf8("x")], { ttlMs: SHORT_MS });
      await acquire(store, claimInput(lapsed, { leaseMs: SHORT_MS }));
      await completeWith(store, await acquire(store, claimInput(completed)), [utf8("y")]);
      await acquire(store, claimInput(inFlight));
      await sleep(LAPSE_WAIT_MS);

      // A backend that deletes expired records itself has already removed both.
      assert.equal(await store.purgeExpired(), expiresByItself ? 0 : 2);
      assert.equal((await store.get(completed))?.state, "completed");
      assert.equal((await store.get(inFlight))?.state, "in_flight");
      for (const ref of [expired, lapsed]) {
        const { tookOver } = expectOutcome(await store.claim(claimInput(ref)), "acquired");
        // Such a backend keeps a lapsed lease's record until its own grace period ends.
        if (!expiresByItself) assert.equal(tookOver, false, "a purged record was still there to take over");
      }
      assert.equal(await store.purgeExpired(), 0);
    });

    test("purgeExpired deletes at most `limit` records", async (store) => {
      for (let index = 0; index < 3; index += 1) {
        await completeWith(store, await acquire(store, claimInput(freshRef())), [utf8("z")], {
          ttlMs: SHORT_MS,
        });
      }
      await sleep(LAPSE_WAIT_MS);
      if (expiresByItself) {
        assert.equal(
          await store.purgeExpired(1),
          0,
          "records that expire by themselves leave nothing to purge",
        );
        return;
      }
      assert.equal(await store.purgeExpired(1), 1);
      assert.equal(await store.purgeExpired(10), 2);
      assert.equal(await store.purgeExpired(), 0);
    });
  });

  if (corrupt) {
    describe("damaged records", () => {
      test("claim and get reject a damaged completed record", async (store) => {
        const ref = freshRef();
        await completeWith(store, await acquire(store, claimInput(ref)), [utf8("fine")]);
        await corrupt(store, ref);
        await assert.rejects(store.claim(claimInput(ref)), isCorruptRecordError(ref));
        await assert.rejects(store.get(ref), isCorruptRecordError(ref));
      });

      test("claim and get reject a damaged in-flight record", async (store) => {
        const ref = freshRef();
        await acquire(store, claimInput(ref));
        await corrupt(store, ref);
        await assert.rejects(store.claim(claimInput(ref)), isCorruptRecordError(ref));
        await assert.rejects(store.get(ref), isCorruptRecordError(ref));
      });
    });
  }

  describe("close", () => {
    options.it(
      "rejects every call after close()",
      async () => {
        const store = await options.create();
        const ref = freshRef();
        let lease: Lease;
        try {
          lease = await acquire(store, claimInput(ref));
        } finally {
          await store.close();
        }
        const body = utf8("late");
        const calls: Record<string, () => unknown> = {
          claim: () => store.claim(claimInput(freshRef())),
          renew: () => store.renew(lease, LONG_MS),
          release: () => store.release(lease),
          appendChunk: () => store.appendChunk(lease, 0, body),
          complete: () =>
            store.complete(lease, { response: responseFor([body]), finalChunk: body, ttlMs: LONG_MS }),
          get: () => store.get(ref),
          readChunk: () => store.readChunk(ref, 0),
          purgeExpired: () => store.purgeExpired(),
        };
        const outcomes = await Promise.all(
          Object.entries(calls).map(async ([method, call]) => [
            method,
            await settleWithin(call, CLOSED_CALL_DEADLINE_MS),
          ]),
        );
        const expected = Object.keys(calls).map((method) => [method, "rejected"]);
        assert.deepEqual(Object.fromEntries(outcomes), Object.fromEntries(expected));
      },
      TEST_TIMEOUT_MS,
    );
  });
}
