import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStore } from "../../src/index.js";
import type { IdempotencyStore } from "../../src/store.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { completion, temporaryDirectory } from "../helpers/stores.js";

/** A real SQLite store on a slow disk: every chunk write takes `delayMs` longer. */
function onSlowDisk(store: IdempotencyStore, delayMs: number): IdempotencyStore & { appended(): number } {
  let appended = 0;
  return {
    claim: (input) => store.claim(input),
    renew: (lease, leaseMs) => store.renew(lease, leaseMs),
    release: (lease) => store.release(lease),
    complete: (lease, input) => store.complete(lease, input),
    get: (ref) => store.get(ref),
    readChunk: (ref, index) => store.readChunk(ref, index),
    purgeExpired: (limit) => store.purgeExpired(limit),
    close: () => store.close(),
    appendChunk: async (lease, index, data) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const owned = await store.appendChunk(lease, index, data);
      appended++;
      return owned;
    },
    appended: () => appended,
  };
}

describe("streaming capture", () => {
  it("holds a handler that honours backpressure back while the store is behind, so memory stays bounded", async () => {
    const sqlite = await createStore(`sqlite:${join(temporaryDirectory(), "slow.db")}`);
    const store = onSlowDisk(sqlite, 30);
    const mebibytes = 24;
    let pendingAtEnd = Number.NaN;
    const server = await guardedServer(store, {}, async (_req, res) => {
      for (let i = 0; i < mebibytes * 16; i++) {
        if (!res.write(Buffer.alloc(64 * 1024, i % 256)))
          await new Promise((resolve) => res.once("drain", resolve));
      }
      // The last chunk travels with complete(); the rest should already be written.
      pendingAtEnd = mebibytes - 1 - store.appended();
      res.end();
    });
    try {
      const key = newKey();
      const first = await send(server.url, { headers: { "idempotency-key": key } });
      expect(first.body.length).toBe(mebibytes * 1024 * 1024);
      expect(pendingAtEnd).toBeLessThanOrEqual(2);
      await completion(store, key);
      const replay = await send(server.url, { headers: { "idempotency-key": key } });
      expect(replay.body.equals(first.body)).toBe(true);
    } finally {
      await server.close();
      await sqlite.close();
    }
  }, 60_000);
});
