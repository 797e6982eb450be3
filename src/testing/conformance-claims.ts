/**
 * Conformance tests of claims and leases: who gets a key, what the others see, and how ownership ends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PENDING_FINGERPRINT, type RecordRef } from "../store.js";
import {
  acquire,
  assertBytes,
  assertNear,
  CLOCK_SLACK_MS,
  claimInput,
  completeWith,
  expectOutcome,
  expectState,
  freshRef,
  LAPSE_WAIT_MS,
  LONG_MS,
  responseFor,
  SHORT_MS,
  type SuiteContext,
  utf8,
} from "./conformance-helpers.js";

/** Who gets a key, what the others see, and how ownership ends. */
export function registerClaimTests({ describe, test }: SuiteContext): void {
  describe("claim", () => {
    test("acquires a key nobody holds", async (store) => {
      const input = claimInput(freshRef());
      const { lease, tookOver } = expectOutcome(await store.claim(input), "acquired");
      assert.deepEqual(
        { scope: lease.scope, key: lease.key, token: lease.token },
        { scope: input.scope, key: input.key, token: input.token },
      );
      assert.equal(tookOver, false);
    });

    test("answers a second claim with the holder's in-flight record", async (store) => {
      const first = claimInput(freshRef());
      await acquire(store, first);
      const { record } = expectOutcome(
        await store.claim(claimInput(first, { fingerprint: "fp-other" })),
        "in_flight",
      );
      assert.equal(record.state, "in_flight");
      assert.deepEqual([record.scope, record.key], [first.scope, first.key]);
      assert.equal(record.fingerprint, first.fingerprint, "the record keeps the first claim's fingerprint");
      assert.equal(record.token, first.token, "the record keeps the first claim's token");
      assert.ok(record.leaseExpiresAt > Date.now(), "the lease has not lapsed yet");
      assertNear(record.leaseExpiresAt - record.createdAt, LONG_MS, "lease length");
    });

    test("lets exactly one of 100 concurrent claims of a key acquire it", async (store) => {
      const ref = freshRef();
      const inputs = Array.from({ length: 100 }, () => claimInput(ref));
      const results = await Promise.all(inputs.map((input) => store.claim(input)));
      const winners = results.flatMap((result) => (result.outcome === "acquired" ? [result.lease] : []));
      assert.equal(winners.length, 1, `${winners.length} claims acquired the key`);
      for (const result of results) {
        if (result.outcome === "acquired") continue;
        assert.equal(expectOutcome(result, "in_flight").record.token, winners[0]?.token);
      }
    });

    test("keeps scopes apart", async (store) => {
      const key = `key-${randomUUID()}`;
      const first = await acquire(store, claimInput({ scope: `a-${randomUUID()}`, key }));
      const second = await acquire(store, claimInput({ scope: `b-${randomUUID()}`, key }));
      await completeWith(store, first, [utf8("a")]);
      assert.equal((await store.get(first))?.state, "completed");
      assert.equal(expectState(await store.get(second), "in_flight").token, second.token);
    });

    test("does not confuse where the scope ends and the key begins", async (store) => {
      const id = randomUUID();
      await acquire(store, claimInput({ scope: `${id}:x`, key: "y" }));
      await acquire(store, claimInput({ scope: id, key: "x:y" }));
      await acquire(store, claimInput({ scope: `${id}:`, key: "x:y" }));
    });

    test("handles quotes, colons, braces, spaces and unicode in keys and scopes", async (store) => {
      const id = randomUUID();
      const refs: RecordRef[] = [
        { scope: `quotes-${id}`, key: `"double" 'single' \`back\`` },
        { scope: `colons:${id}::`, key: "a:b::c:" },
        { scope: `braces-{${id}}`, key: "{tag}x{}" },
        { scope: `spaces ${id} `, key: "  padded key  " },
        { scope: `unicode-ключ-日本-🔑-${id}`, key: "%_\\;--*?[]" },
      ];
      for (const ref of refs) {
        const lease = await acquire(store, claimInput(ref));
        await completeWith(store, lease, [utf8(ref.key)]);
        const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
        assert.deepEqual([record.scope, record.key], [ref.scope, ref.key]);
        assertBytes(record.firstChunk, utf8(ref.key), `body of ${JSON.stringify(ref)}`);
        assertBytes(await store.readChunk(ref, 0), utf8(ref.key), `chunk 0 of ${JSON.stringify(ref)}`);
      }
    });
  });

  describe("leases", () => {
    test("lets a claim take over a lapsed lease", async (store) => {
      const ref = freshRef();
      await acquire(store, claimInput(ref, { leaseMs: SHORT_MS }));
      await sleep(LAPSE_WAIT_MS);
      const next = claimInput(ref, { fingerprint: "fp-next" });
      const { lease, tookOver } = expectOutcome(await store.claim(next), "acquired");
      assert.equal(tookOver, true);
      assert.equal(lease.token, next.token);
      const record = expectState(await store.get(ref), "in_flight");
      assert.deepEqual([record.token, record.fingerprint], [next.token, "fp-next"]);
    });

    test("fences the previous owner off after a takeover", async (store) => {
      const ref = freshRef();
      const stale = await acquire(store, claimInput(ref, { leaseMs: SHORT_MS }));
      await sleep(LAPSE_WAIT_MS);
      const owner = await acquire(store, claimInput(ref));
      const ownChunk = utf8("written by the new owner");
      assert.equal(await store.appendChunk(owner, 0, ownChunk), true);
      const snapshot = await store.get(ref);

      const junk = utf8("written by the stale owner");
      assert.equal(await store.renew(stale, LONG_MS * 10), false, "renew with a superseded token");
      assert.equal(await store.appendChunk(stale, 0, junk), false, "appendChunk with a superseded token");
      const staleCompletion = { response: responseFor([junk]), finalChunk: junk, ttlMs: LONG_MS };
      assert.equal(await store.complete(stale, staleCompletion), false, "complete with a superseded token");
      assert.equal(await store.release(stale), false, "release with a superseded token");
      assert.deepEqual(await store.get(ref), snapshot, "the stale owner changed the new owner's record");

      const tail = utf8("tail");
      const completion = { response: responseFor([ownChunk, tail]), finalChunk: tail, ttlMs: LONG_MS };
      assert.equal(await store.complete(owner, completion), true);
      assertBytes(await store.readChunk(ref, 0), ownChunk, "chunk 0");
    });

    test("renew extends the lease", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref, { leaseMs: SHORT_MS * 2 }));
      const before = expectState(await store.get(ref), "in_flight");
      assert.equal(await store.renew(lease, LONG_MS), true);
      const after = expectState(await store.get(ref), "in_flight");
      assert.ok(
        after.leaseExpiresAt - before.leaseExpiresAt >= LONG_MS - SHORT_MS * 2 - CLOCK_SLACK_MS,
        `lease moved from ${before.leaseExpiresAt} only to ${after.leaseExpiresAt}`,
      );
      await sleep(LAPSE_WAIT_MS + SHORT_MS);
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "in_flight");
      assert.equal(record.token, lease.token, "the renewed lease outlived its first expiry");
    });

    test("release deletes the record so the key runs again", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref));
      assert.equal(await store.release(lease), true);
      assert.equal(await store.get(ref), undefined);
      const { tookOver } = expectOutcome(await store.claim(claimInput(ref)), "acquired");
      assert.equal(tookOver, false, "a released key is free, not taken over");
      assert.equal(await store.release(lease), false, "a second release by the old token");
    });

    test("complete succeeds after the lease lapsed when nobody took over", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref, { leaseMs: SHORT_MS }));
      await sleep(LAPSE_WAIT_MS);
      await completeWith(store, lease, [utf8("late")]);
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
      assertBytes(record.firstChunk, utf8("late"), "body");
    });
  });

  describe("fingerprint settled at completion", () => {
    test("a claim with the pending fingerprint shows it while in flight", async (store) => {
      const ref = freshRef();
      await acquire(store, claimInput(ref, { fingerprint: PENDING_FINGERPRINT }));
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "in_flight");
      assert.equal(record.fingerprint, PENDING_FINGERPRINT);
    });

    test("complete with a fingerprint replaces the claim's; get and claim show it", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref, { fingerprint: PENDING_FINGERPRINT }));
      const body = utf8("settled");
      const input = {
        response: responseFor([body]),
        finalChunk: body,
        ttlMs: LONG_MS,
        fingerprint: "fp-hashed",
      };
      assert.equal(await store.complete(lease, input), true);
      assert.equal(expectState(await store.get(ref), "completed").fingerprint, "fp-hashed", "get");
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
      assert.equal(record.fingerprint, "fp-hashed", "claim");
      assertBytes(record.firstChunk, body, "body");
    });

    test("complete without a fingerprint keeps the claim's", async (store) => {
      const ref = freshRef();
      await completeWith(store, await acquire(store, claimInput(ref, { fingerprint: "fp-claimed" })), [
        utf8("x"),
      ]);
      assert.equal(expectState(await store.get(ref), "completed").fingerprint, "fp-claimed");
    });

    test("a non-owner's complete with a fingerprint changes nothing", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref, { fingerprint: PENDING_FINGERPRINT }));
      const input = {
        response: responseFor([]),
        finalChunk: new Uint8Array(0),
        ttlMs: LONG_MS,
        fingerprint: "fp-x",
      };
      assert.equal(await store.complete({ ...lease, token: randomUUID() }, input), false);
      const record = expectState(await store.get(ref), "in_flight");
      assert.equal(record.fingerprint, PENDING_FINGERPRINT);
    });
  });
}
