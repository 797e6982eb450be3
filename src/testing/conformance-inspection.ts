/**
 * Conformance tests of the optional `InspectableStore` operations, `list` and `delete`.
 * A store without them passes these tests without being checked: the interface is
 * optional, and the suite only learns what a store offers once a test has created it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { type IdempotencyRecord, isInspectable, type RecordRef } from "../store.js";
import {
  acquire,
  assertBytes,
  claimInput,
  completeWith,
  expectOutcome,
  freshRef,
  LAPSE_WAIT_MS,
  responseFor,
  SHORT_MS,
  type SuiteContext,
  utf8,
} from "./conformance-helpers.js";

/** More pages than the test's records can fill; reaching it means the cursor never ends. */
const MAX_PAGES = 20;

/** `list` and `delete`, checked only when the store offers them. */
export function registerInspectionTests({ describe, test }: SuiteContext): void {
  describe("inspection (stores implementing InspectableStore)", () => {
    test("list pages through every live record once", async (store) => {
      if (!isInspectable(store)) return;
      const completed = [freshRef(), freshRef(), freshRef()];
      const inFlight = [freshRef(), freshRef()];
      for (const ref of completed)
        await completeWith(store, await acquire(store, claimInput(ref)), [utf8(ref.key)]);
      for (const ref of inFlight) await acquire(store, claimInput(ref));
      const expired = freshRef();
      await completeWith(store, await acquire(store, claimInput(expired)), [utf8("gone")], {
        ttlMs: SHORT_MS,
      });
      await acquire(store, claimInput(freshRef(), { leaseMs: SHORT_MS }));
      await sleep(LAPSE_WAIT_MS);

      const listed = new Map<string, IdempotencyRecord>();
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const result = await store.list(cursor === undefined ? { limit: 2 } : { limit: 2, cursor });
        assert.ok(result.records.length <= 2, `a page of limit 2 held ${result.records.length} records`);
        for (const record of result.records) {
          assert.ok(!listed.has(refId(record)), `${refId(record)} was listed twice`);
          listed.set(refId(record), record);
        }
        cursor = result.cursor;
        if (cursor === undefined) break;
      }
      assert.equal(cursor, undefined, `list still returned a cursor after ${MAX_PAGES} pages`);
      assert.deepEqual([...listed.keys()].sort(), [...completed, ...inFlight].map(refId).sort());
      for (const ref of completed) {
        const record = listed.get(refId(ref));
        assert.equal(record?.state, "completed");
        assertBytes(record.firstChunk, utf8(ref.key), "first chunk of a listed record");
      }
      for (const ref of inFlight) assert.equal(listed.get(refId(ref))?.state, "in_flight");
    });

    test("delete removes a record of either state, with its body", async (store) => {
      if (!isInspectable(store)) return;
      const ref = freshRef();
      await completeWith(store, await acquire(store, claimInput(ref)), [utf8("one"), utf8("two")]);
      assert.equal(await store.delete(ref), true, "delete of a completed record");
      assert.equal(await store.get(ref), undefined);
      assert.equal(await store.readChunk(ref, 1), undefined);

      const { lease, tookOver } = expectOutcome(await store.claim(claimInput(ref)), "acquired");
      assert.equal(tookOver, false, "a deleted record was still there to take over");
      assert.equal(await store.delete(ref), true, "delete of an in-flight record");
      const body = utf8("late");
      const completion = { response: responseFor([body]), finalChunk: body, ttlMs: SHORT_MS };
      assert.equal(
        await store.complete(lease, completion),
        false,
        "the owner of a deleted record completed it",
      );
      assert.equal(await store.delete(ref), false, "delete of a missing record");
    });
  });
}

function refId({ scope, key }: RecordRef): string {
  return JSON.stringify([scope, key]);
}
