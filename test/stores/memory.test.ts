import { describe, expect, it } from "vitest";
import { InvalidOptionError, InvalidStoreUrlError } from "../../src/core/errors.js";
import type { ClaimInput, HeaderPair, Lease, RecordRef } from "../../src/store.js";
import { createMemoryStore, type MemoryStore, memoryStoreFromUrl } from "../../src/stores/memory/index.js";
import { RECORD_OVERHEAD_BYTES } from "../../src/stores/memory/store.js";
import { storeConformanceSuite } from "../../src/testing/index.js";

storeConformanceSuite({
  name: "MemoryStore",
  create: () => createMemoryStore(),
  describe,
  it,
});

/** Claims `ref`, which must be free, and returns the lease. */
async function acquire(store: MemoryStore, ref: RecordRef & Partial<ClaimInput>): Promise<Lease> {
  const claim = await store.claim({ fingerprint: "f", token: "t", leaseMs: 60_000, ...ref });
  if (claim.outcome !== "acquired") throw new Error(`claim returned ${claim.outcome}`);
  return claim.lease;
}

describe("MemoryStore", () => {
  it("keeps its own copies of body bytes and headers", async () => {
    const store = createMemoryStore();
    try {
      const ref = { scope: "s", key: "k" };
      const lease = await acquire(store, ref);
      const first = new Uint8Array([1, 2, 3]);
      const last = new Uint8Array([4, 5]);
      const pair: [string, string] = ["x-a", "1"];
      const headers: HeaderPair[] = [pair];
      await store.appendChunk(lease, 0, first);
      const response = { status: 200, headers, bodyLength: 5, chunkCount: 2, bodyOmitted: false };
      await store.complete(lease, { response, finalChunk: last, ttlMs: 60_000 });

      // Change everything the caller handed in, and everything handed out.
      first.fill(0);
      last.fill(0);
      pair[1] = "changed";
      headers.push(["x-b", "2"]);
      const record = await store.get(ref);
      if (record?.state !== "completed") throw new Error("the record is not completed");
      record.firstChunk.fill(9);
      (record.response.headers as HeaderPair[]).push(["x-c", "3"]);
      (await store.readChunk(ref, 1))?.fill(9);

      const again = await store.get(ref);
      if (again?.state !== "completed") throw new Error("the record is not completed");
      expect([...again.firstChunk]).toEqual([1, 2, 3]);
      expect([...((await store.readChunk(ref, 1)) ?? [])]).toEqual([4, 5]);
      expect(again.response.headers).toEqual([["x-a", "1"]]);
    } finally {
      await store.close();
    }
  });

  it("reads only the chunks a completed record counts", async () => {
    const store = createMemoryStore();
    try {
      const ref = { scope: "s", key: "k" };
      const lease = await acquire(store, ref);
      // Written by a broken caller: outside any index a one-chunk body can have.
      await store.appendChunk(lease, 2 ** 40, new Uint8Array([7]));
      await store.appendChunk(lease, -1, new Uint8Array([7]));
      const response = { status: 200, headers: [], bodyLength: 1, chunkCount: 1, bodyOmitted: false };
      await store.complete(lease, { response, finalChunk: new Uint8Array([1]), ttlMs: 60_000 });
      expect([...((await store.readChunk(ref, 0)) ?? [])]).toEqual([1]);
      expect(await store.readChunk(ref, 2 ** 40)).toBeUndefined();
      expect(await store.readChunk(ref, -1)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("rejects an invalid purgeInterval, maxEntries or maxBytes", () => {
    expect(() => createMemoryStore({ purgeInterval: -1 })).toThrow(InvalidOptionError);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createMemoryStore({ maxEntries: bad })).toThrow(/maxEntries must be a positive integer/);
      expect(() => createMemoryStore({ maxBytes: bad })).toThrow(/maxBytes must be a positive integer/);
    }
  });

  it("is created from memory:, with bounds from its query string", async () => {
    await memoryStoreFromUrl("memory:").close();
    const bounded = memoryStoreFromUrl("memory:?maxEntries=2&maxBytes=100000&purgeInterval=0");
    try {
      for (const key of ["a", "b", "c"]) await completeRecord(bounded, key);
      expect(await held(bounded, ["a", "b", "c"])).toEqual(["b", "c"]);
    } finally {
      await bounded.close();
    }
    for (const bad of ["memory:extra", "memory:?maxentries=2", "memory:?maxEntries=2k", "redis:"]) {
      expect(() => memoryStoreFromUrl(bad)).toThrow(InvalidStoreUrlError);
    }
    expect(() => memoryStoreFromUrl("memory:?maxBytes=0")).toThrow(InvalidOptionError);
  });
});

/** Claims and completes `key` with a body of `bodyBytes` bytes (one chunk). */
async function completeRecord(store: MemoryStore, key: string, bodyBytes = 100): Promise<void> {
  const lease = await acquire(store, { scope: "s", key });
  const body = new Uint8Array(bodyBytes).fill(7);
  const response = { status: 201, headers: [], bodyLength: bodyBytes, chunkCount: 1, bodyOmitted: false };
  expect(await store.complete(lease, { response, finalChunk: body, ttlMs: 60_000 })).toBe(true);
}

/** Which of `keys` the store still holds, in flight or completed. */
async function held(store: MemoryStore, keys: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const key of keys) if (await store.get({ scope: "s", key })) present.push(key);
  return present;
}

describe("MemoryStore bounds", () => {
  it("keeps at most maxEntries records, evicting the oldest completed one", async () => {
    const store = createMemoryStore({ maxEntries: 3, purgeInterval: 0 });
    try {
      for (const key of ["a", "b", "c", "d", "e"]) await completeRecord(store, key);
      expect(await held(store, ["a", "b", "c", "d", "e"])).toEqual(["c", "d", "e"]);
      expect(store.size.entries).toBe(3);
    } finally {
      await store.close();
    }
  });

  it("evicts the least recently used completed record: a replay counts as a use", async () => {
    const store = createMemoryStore({ maxEntries: 3, purgeInterval: 0 });
    try {
      for (const key of ["a", "b", "c"]) await completeRecord(store, key);
      const replay = await store.claim({ scope: "s", key: "a", fingerprint: "f", token: "t2", leaseMs: 1 });
      expect(replay.outcome).toBe("completed");
      await completeRecord(store, "d");
      expect(await held(store, ["a", "b", "c", "d"])).toEqual(["a", "c", "d"]);
      await completeRecord(store, "e");
      expect(await held(store, ["a", "b", "c", "d", "e"])).toEqual(["a", "d", "e"]);
    } finally {
      await store.close();
    }
  });

  it("never evicts an in-flight record, even past maxEntries", async () => {
    const store = createMemoryStore({ maxEntries: 2, purgeInterval: 0 });
    try {
      await completeRecord(store, "done");
      const leases = [];
      for (const key of ["x", "y", "z"]) leases.push(await acquire(store, { scope: "s", key }));
      // The completed record made room; the in-flight ones stay, over the bound.
      expect(await held(store, ["done", "x", "y", "z"])).toEqual(["x", "y", "z"]);
      expect(store.size.entries).toBe(3);
      for (const key of ["x", "y", "z"]) {
        const again = await store.claim({
          scope: "s",
          key,
          fingerprint: "f",
          token: "other",
          leaseMs: 60_000,
        });
        expect(again.outcome).toBe("in_flight");
      }
      // Each still completes; completed, they are evicted as usual to get back under the bound.
      const response = { status: 200, headers: [], bodyLength: 0, chunkCount: 0, bodyOmitted: false };
      for (const lease of leases) {
        expect(await store.complete(lease, { response, finalChunk: new Uint8Array(0), ttlMs: 60_000 })).toBe(
          true,
        );
      }
      expect(await held(store, ["x", "y", "z"])).toEqual(["y", "z"]);
    } finally {
      await store.close();
    }
  });

  it("counts a record as its overhead, texts, header texts and body bytes, and a body too large as omitted", async () => {
    const texts = RECORD_OVERHEAD_BYTES + "sc".length + "key".length + "fp12".length;
    const claim = { scope: "sc", key: "key", fingerprint: "fp12", token: "token", leaseMs: 60_000 };
    const headers: HeaderPair[] = [["x-a", "12345"]];
    const response = { status: 200, headers, bodyLength: 17, chunkCount: 2, bodyOmitted: false };
    const store = createMemoryStore({ purgeInterval: 0 });
    try {
      const lease = await acquire(store, claim);
      expect(store.size.bytes).toBe(texts + "token".length);
      await store.appendChunk(lease, 0, new Uint8Array(10));
      await store.complete(lease, { response, finalChunk: new Uint8Array(7), ttlMs: 60_000 });
      expect(store.size.bytes).toBe(texts + "x-a12345".length + 17);
    } finally {
      await store.close();
    }

    // One byte short of room for the body: the record is kept without it.
    const small = createMemoryStore({ purgeInterval: 0, maxBytes: texts + "x-a12345".length + 16 });
    try {
      const lease = await acquire(small, claim);
      await small.appendChunk(lease, 0, new Uint8Array(10));
      await small.complete(lease, { response, finalChunk: new Uint8Array(7), ttlMs: 60_000 });
      expect(small.size.bytes).toBe(texts + "x-a12345".length);
      expect(await small.get(claim)).toMatchObject({
        state: "completed",
        response: { bodyOmitted: true, bodyLength: 0, chunkCount: 0 },
      });
    } finally {
      await small.close();
    }
  });

  it("keeps the records within maxBytes, evicting the least recently used completed ones", async () => {
    const probe = createMemoryStore({ purgeInterval: 0 });
    await completeRecord(probe, "a", 1_000);
    const one = probe.size.bytes;
    await probe.close();
    expect(one).toBeGreaterThan(1_000);

    const store = createMemoryStore({ maxBytes: Math.floor(2.5 * one), purgeInterval: 0 });
    try {
      for (const key of ["a", "b"]) await completeRecord(store, key, 1_000);
      expect(store.size.bytes).toBe(2 * one);
      await completeRecord(store, "c", 1_000);
      expect(await held(store, ["a", "b", "c"])).toEqual(["b", "c"]);
      expect(store.size.bytes).toBe(2 * one);
    } finally {
      await store.close();
    }
  });

  it("counts an in-flight record's appended chunks, and evicts completed records for them, not it", async () => {
    const store = createMemoryStore({ maxBytes: 8_192, purgeInterval: 0 });
    try {
      await completeRecord(store, "done", 1_000);
      const lease = await acquire(store, { scope: "s", key: "streaming" });
      expect(await store.appendChunk(lease, 0, new Uint8Array(10_000))).toBe(true);
      expect(await held(store, ["done", "streaming"])).toEqual(["streaming"]);
      expect(store.size.bytes).toBeGreaterThan(10_000);
      // Overwriting a chunk counts its new size only.
      expect(await store.appendChunk(lease, 0, new Uint8Array(10))).toBe(true);
      expect(store.size.bytes).toBeLessThan(1_000);
    } finally {
      await store.close();
    }
  });

  it("keeps a response larger than maxBytes completed, without its body", async () => {
    const store = createMemoryStore({ maxBytes: 4_096, purgeInterval: 0 });
    try {
      await completeRecord(store, "small", 100);
      await completeRecord(store, "huge", 10_000);
      const claim = await store.claim({ scope: "s", key: "huge", fingerprint: "f", token: "t2", leaseMs: 1 });
      if (claim.outcome !== "completed") throw new Error(`claim returned ${claim.outcome}`);
      expect(claim.record.response).toEqual({
        status: 201,
        headers: [],
        bodyLength: 0,
        chunkCount: 0,
        bodyOmitted: true,
      });
      expect(claim.record.firstChunk.byteLength).toBe(0);
      // The small one still fits beside it.
      expect(await held(store, ["small", "huge"])).toEqual(["small", "huge"]);
      expect(store.size.bytes).toBeLessThanOrEqual(4_096);
    } finally {
      await store.close();
    }
  });

  it("gives back the bytes of released, deleted, purged and taken-over records", async () => {
    const store = createMemoryStore({ purgeInterval: 0 });
    try {
      const released = await acquire(store, { scope: "s", key: "released" });
      await store.appendChunk(released, 0, new Uint8Array(300));
      await store.release(released);
      await completeRecord(store, "deleted", 500);
      await store.delete({ scope: "s", key: "deleted" });
      const lapsed = await store.claim({
        scope: "s",
        key: "lapsed",
        fingerprint: "f",
        token: "t",
        leaseMs: 1,
      });
      expect(lapsed.outcome).toBe("acquired");
      const purged = await store.claim({
        scope: "s",
        key: "purged",
        fingerprint: "f",
        token: "t",
        leaseMs: 1,
      });
      expect(purged.outcome).toBe("acquired");
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.claim({ scope: "s", key: "lapsed", fingerprint: "f", token: "t2", leaseMs: 60_000 });
      expect(await store.purgeExpired()).toBe(1);
      // Only the record that took "lapsed" over is left.
      expect(store.size.entries).toBe(1);
      const fresh = createMemoryStore({ purgeInterval: 0 });
      await fresh.claim({ scope: "s", key: "lapsed", fingerprint: "f", token: "t2", leaseMs: 60_000 });
      expect(store.size.bytes).toBe(fresh.size.bytes);
      await fresh.close();
    } finally {
      await store.close();
    }
  });
});
