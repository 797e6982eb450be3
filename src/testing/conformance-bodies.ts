/**
 * Conformance tests of completion: what a completed record replays, byte for byte.
 *
 * @module
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { StoredResponse } from "../store.js";
import {
  acquire,
  assertBytes,
  assertNear,
  claimInput,
  completeWith,
  expectOutcome,
  expectState,
  freshRef,
  LONG_MS,
  responseFor,
  type SuiteContext,
  utf8,
} from "./conformance-helpers.js";

const MIB = 1024 * 1024;
/** Twelve megabytes may take a while through a remote store. */
const LARGE_BODY_TIMEOUT_MS = 120_000;

/** What a completed record replays: status, headers and body chunks, exactly. */
export function registerCompletionTests({ describe, test }: SuiteContext): void {
  describe("completion", () => {
    test("replays status, headers and body exactly", async (store) => {
      const input = claimInput(freshRef(), { fingerprint: "fp-first" });
      const lease = await acquire(store, input);
      const body = utf8('{"id":42,"note":"créé"}');
      const response: StoredResponse = {
        status: 201,
        headers: [
          ["content-type", "application/json; charset=utf-8"],
          ["set-cookie", "a=1; Path=/; HttpOnly"],
          ["x-note", "spaces, commas; and ünïcode"],
          ["set-cookie", "b=2"],
          ["vary", "accept"],
          ["vary", "origin"],
        ],
        bodyLength: body.byteLength,
        chunkCount: 1,
        bodyOmitted: false,
      };
      assert.equal(await store.complete(lease, { response, finalChunk: body, ttlMs: LONG_MS }), true);

      const { record } = expectOutcome(await store.claim(claimInput(input)), "completed");
      assert.equal(record.state, "completed");
      assert.deepEqual([record.scope, record.key, record.fingerprint], [input.scope, input.key, "fp-first"]);
      assert.deepEqual(record.response, response);
      assertBytes(record.firstChunk, body, "first chunk");
      assert.ok(record.completedAt >= record.createdAt, "completedAt precedes createdAt");
      assertNear(record.expiresAt - record.completedAt, LONG_MS, "record lifetime");

      assert.equal(
        await store.complete(lease, { response, finalChunk: body, ttlMs: 1 }),
        false,
        "complete twice",
      );
      assert.equal(await store.renew(lease, LONG_MS), false, "renew of a completed record");
      assert.equal(await store.appendChunk(lease, 0, utf8("x")), false, "appendChunk to a completed record");
      assert.equal(await store.release(lease), false, "release of a completed record");
      const again = expectState(await store.get(input), "completed");
      assert.deepEqual([again.response, again.expiresAt], [response, record.expiresAt]);
      assertBytes(again.firstChunk, body, "first chunk after refused calls");
    });

    test("get returns the in-flight record, then the completed one, and undefined for none", async (store) => {
      const ref = freshRef();
      assert.equal(await store.get(ref), undefined);
      const lease = await acquire(store, claimInput(ref));
      assert.equal(expectState(await store.get(ref), "in_flight").token, lease.token);
      await completeWith(store, lease, [utf8("done")]);
      assertBytes(expectState(await store.get(ref), "completed").firstChunk, utf8("done"), "first chunk");
    });

    test("stores binary bodies byte for byte", async (store) => {
      const ref = freshRef();
      const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
      const reversed = everyByte.slice().reverse();
      await completeWith(store, await acquire(store, claimInput(ref)), [everyByte, reversed]);
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
      assertBytes(record.firstChunk, everyByte, "first chunk");
      assertBytes(await store.readChunk(ref, 0), everyByte, "chunk 0");
      assertBytes(await store.readChunk(ref, 1), reversed, "chunk 1");
    });

    test(
      "stores a 12 MiB body as twelve chunks",
      async (store) => {
        const ref = freshRef();
        const chunks = Array.from({ length: 12 }, () => new Uint8Array(randomBytes(MIB)));
        await completeWith(store, await acquire(store, claimInput(ref)), chunks);
        const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
        assert.deepEqual([record.response.bodyLength, record.response.chunkCount], [12 * MIB, 12]);
        assertBytes(record.firstChunk, chunks[0] ?? new Uint8Array(0), "first chunk");
        for (const [index, chunk] of chunks.entries()) {
          assertBytes(await store.readChunk(ref, index), chunk, `chunk ${index}`);
        }
        assert.equal(await store.readChunk(ref, 12), undefined);
      },
      LARGE_BODY_TIMEOUT_MS,
    );

    test("complete discards chunks at or above chunkCount", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref));
      const [first, second, third, final] = ["one", "two", "three", "final"].map(utf8) as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
      for (const [index, chunk] of [first, second, third].entries()) {
        assert.equal(await store.appendChunk(lease, index, chunk), true);
      }
      const response = responseFor([first, final]);
      assert.equal(await store.complete(lease, { response, finalChunk: final, ttlMs: LONG_MS }), true);
      assertBytes(await store.readChunk(ref, 0), first, "chunk 0");
      assertBytes(
        await store.readChunk(ref, 1),
        final,
        "chunk 1 (the final chunk replaces the appended one)",
      );
      assert.equal(await store.readChunk(ref, 2), undefined, "chunk 2 was not discarded");
    });

    test("an empty body has no chunks, whatever was appended", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref));
      assert.equal(await store.appendChunk(lease, 0, utf8("abandoned")), true);
      const response = responseFor([]);
      assert.equal(
        await store.complete(lease, { response, finalChunk: utf8("ignored"), ttlMs: LONG_MS }),
        true,
      );
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
      assert.deepEqual(record.response, response);
      assertBytes(record.firstChunk, new Uint8Array(0), "first chunk");
      assert.equal(await store.readChunk(ref, 0), undefined);
    });

    test("keeps a record whose body was omitted", async (store) => {
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref));
      const response = responseFor([], { bodyOmitted: true });
      assert.equal(
        await store.complete(lease, { response, finalChunk: new Uint8Array(0), ttlMs: LONG_MS }),
        true,
      );
      const { record } = expectOutcome(await store.claim(claimInput(ref)), "completed");
      assert.deepEqual(record.response, response);
      assert.equal(record.firstChunk.byteLength, 0);
    });

    test("readChunk returns undefined for a missing record, index or completion", async (store) => {
      assert.equal(await store.readChunk(freshRef(), 0), undefined, "missing record");
      const ref = freshRef();
      const lease = await acquire(store, claimInput(ref));
      assert.equal(await store.appendChunk(lease, 0, utf8("partial")), true);
      assert.equal(await store.readChunk(ref, 0), undefined, "chunk of an in-flight record");
      await completeWith(store, lease, [utf8("whole")]);
      assertBytes(await store.readChunk(ref, 0), utf8("whole"), "chunk 0");
      assert.equal(await store.readChunk(ref, 1), undefined, "index past the last chunk");
    });
  });
}
