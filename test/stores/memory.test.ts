import { describe, expect, it } from "vitest";
import { InvalidOptionError, InvalidStoreUrlError } from "../../src/core/errors.js";
import type { HeaderPair, Lease, RecordRef } from "../../src/store.js";
import { createMemoryStore, type MemoryStore, memoryStoreFromUrl } from "../../src/stores/memory/index.js";
import { storeConformanceSuite } from "../../src/testing/index.js";

storeConformanceSuite({
  name: "MemoryStore",
  create: () => createMemoryStore(),
  describe,
  it,
});

/** Claims `ref`, which must be free, and returns the lease. */
async function acquire(store: MemoryStore, ref: RecordRef): Promise<Lease> {
  const claim = await store.claim({ ...ref, fingerprint: "f", token: "t", leaseMs: 60_000 });
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

  it("keeps long-lived records whole when a purge compacts the space short-lived ones left", async () => {
    const store = createMemoryStore({ purgeIntervalMs: 0 });
    try {
      // About 3 MiB of records, so that they span several of the store's 1 MiB slabs; one
      // in ten outlives the purge, which leaves each slab about a tenth live.
      const bodyOf = (i: number) => new Uint8Array(240).fill(i % 256);
      const long = (i: number) => i % 10 === 0;
      for (let i = 0; i < 12_000; i++) {
        const lease = await acquire(store, { scope: "s", key: `k${i}` });
        const response = {
          status: 201,
          headers: [["x-n", String(i)]] as HeaderPair[],
          bodyLength: 240,
          chunkCount: 1,
          bodyOmitted: false,
        };
        await store.complete(lease, { response, finalChunk: bodyOf(i), ttlMs: long(i) ? 60_000 : 1 });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await store.purgeExpired()).toBe(10_800);
      for (let i = 0; i < 12_000; i += 10) {
        const record = await store.get({ scope: "s", key: `k${i}` });
        if (record?.state !== "completed") throw new Error(`record k${i} is gone`);
        expect(record.response.headers).toEqual([["x-n", String(i)]]);
        expect([...record.firstChunk]).toEqual([...bodyOf(i)]);
      }
      expect(await store.get({ scope: "s", key: "k1" })).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("rejects an invalid purgeIntervalMs", () => {
    expect(() => createMemoryStore({ purgeIntervalMs: -1 })).toThrow(InvalidOptionError);
  });

  it("is created from exactly memory:", async () => {
    await memoryStoreFromUrl("memory:").close();
    expect(() => memoryStoreFromUrl("memory:extra")).toThrow(InvalidStoreUrlError);
  });
});
