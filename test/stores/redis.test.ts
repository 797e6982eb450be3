import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CorruptRecordError, InvalidOptionError, StoreClosedError } from "../../src/core/errors.js";
import type { IdempotencyStore, Lease, RecordRef } from "../../src/store.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { serviceUrl } from "../helpers/services.js";
import { adminClient, redisConformanceSuite, scanKeys, uniquePrefix } from "./redis-support.js";

const url = serviceUrl("ONCELY_TEST_REDIS_URL", "Redis store");

if (url) {
  redisConformanceSuite("RedisStore", url);
  const admin = adminClient(url);
  const bytes = (text: string) => new TextEncoder().encode(text);
  const response = (chunkCount: number, bodyLength: number) => ({
    status: 200,
    headers: [] as [],
    bodyLength,
    chunkCount,
    bodyOmitted: false,
  });
  const claim = (store: IdempotencyStore, ref: RecordRef, leaseMs = 60_000) =>
    store.claim({ ...ref, fingerprint: "fp", token: randomUUID(), leaseMs });
  const acquire = async (store: IdempotencyStore, ref: RecordRef, leaseMs?: number): Promise<Lease> => {
    const result = await claim(store, ref, leaseMs);
    if (result.outcome !== "acquired") throw new Error(`expected to acquire, got ${result.outcome}`);
    return result.lease;
  };

  describe("RedisStore expiry", () => {
    it("gives every key an expiry and leaves no key behind once records expire", async () => {
      const prefix = uniquePrefix();
      const store = await createRedisStore({ url, prefix, leaseGrace: 100 });
      try {
        const completed = await acquire(store, { scope: "s", key: "completed" });
        await store.appendChunk(completed, 0, bytes("a"));
        await store.appendChunk(completed, 1, bytes("b"));
        await store.complete(completed, { response: response(3, 3), finalChunk: bytes("c"), ttlMs: 300 });
        const abandoned = await acquire(store, { scope: "s", key: "abandoned" }, 200);
        for (const index of [0, 1, 2]) await store.appendChunk(abandoned, index, bytes("x"));

        const client = await admin();
        const keys = await scanKeys(client, `${prefix}*`);
        // Two records; chunks 1-2 of the completed one (completion moved chunk 0 into the
        // record), chunks 0-2 of the abandoned one.
        expect(keys).toHaveLength(7);
        // -1 would be a key without expiry; -2 one that already expired.
        for (const key of keys) expect(await client.pttl(key), key).not.toBe(-1);

        await sleep(600);
        expect(await scanKeys(client, `${prefix}*`)).toEqual([]);
        expect(await store.purgeExpired()).toBe(0);
        const ref = { scope: "s", key: "completed" };
        expect(await store.get(ref)).toBeUndefined();
        expect(await store.readChunk(ref, 0)).toBeUndefined();
        expect((await claim(store, ref)).outcome).toBe("acquired");
        expect(await store.readChunk(ref, 1)).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("keeps no body chunk of a record completed with its body omitted", async () => {
      const prefix = uniquePrefix();
      const store = await createRedisStore({ url, prefix });
      try {
        const lease = await acquire(store, { scope: "s", key: "omitted" });
        for (const index of [0, 1]) await store.appendChunk(lease, index, bytes("x"));
        const omitted = { ...response(0, 0), bodyOmitted: true };
        expect(await store.complete(lease, { response: omitted, finalChunk: bytes(""), ttlMs: 60_000 })).toBe(
          true,
        );
        const client = await admin();
        const keys = await scanKeys(client, `${prefix}*`);
        expect(keys).toHaveLength(1);
        // A completed value ends with `<length>:<key>` and then chunk 0: here nothing.
        expect(String(await client.get(keys[0] as string))).toMatch(/,0,200,0,1,2:fp2:\[\]1:s7:omitted$/);
      } finally {
        await store.close();
      }
    });

    it("keeps streamed chunks alive for as long as renewals keep the lease", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix(), leaseGrace: 50 });
      try {
        const ref = { scope: "s", key: "long-stream" };
        const lease = await acquire(store, ref, 150);
        expect(await store.appendChunk(lease, 0, bytes("zero"))).toBe(true);
        expect(await store.appendChunk(lease, 1, bytes("one"))).toBe(true);
        for (let round = 0; round < 5; round += 1) {
          await sleep(100);
          expect(await store.renew(lease, 150)).toBe(true);
        }
        const completion = { response: response(3, 11), finalChunk: bytes("two"), ttlMs: 60_000 };
        expect(await store.complete(lease, completion)).toBe(true);
        expect(await store.readChunk(ref, 1)).toEqual(bytes("one"));
      } finally {
        await store.close();
      }
    });
  });

  describe("RedisStore records of the first version's layout", () => {
    // The first version kept a record as a hash, one field per column: such records, still
    // in Redis after an upgrade, must replay as they did, and give way once their lease lapsed.
    const legacyRecord = async (prefix: string, fields: Record<string, string>) => {
      const store = await createRedisStore({ url, prefix });
      const ref = { scope: "s", key: `legacy-${randomUUID()}` };
      await acquire(store, ref);
      const client = await admin();
      const [key] = await scanKeys(client, `${prefix}*:r`);
      await client.del(key as string);
      await client.hset(key as string, { scope: ref.scope, key: ref.key, fingerprint: "fp", ...fields });
      await client.pexpire(key as string, 60_000);
      return { store, ref, client, key: key as string };
    };

    it("claims a key whose hash record expires between the claim's SET and the legacy script", async () => {
      const prefix = uniquePrefix();
      const now = Date.now();
      const {
        store: setup,
        ref,
        client,
        key,
      } = await legacyRecord(prefix, {
        state: "completed",
        created_at: String(now),
        completed_at: String(now),
        expires_at: String(now + 60_000),
        status: "200",
        headers: "[]",
        body_length: "0",
        chunk_count: "0",
        body_omitted: "0",
      });
      await setup.close();
      const connection = new Redis(url, { lazyConnect: true });
      await connection.connect();
      const setBuffer = connection.setBuffer.bind(connection);
      // The SET meets the hash (WRONGTYPE); the hash expires before the legacy script runs.
      connection.setBuffer = (async (...args: Parameters<typeof setBuffer>) => {
        try {
          return await setBuffer(...args);
        } catch (error) {
          await client.del(key);
          throw error;
        }
      }) as typeof setBuffer;
      const store = await createRedisStore({ client: connection, prefix });
      try {
        expect(await claim(store, ref)).toMatchObject({ outcome: "acquired", tookOver: false });
        expect(await client.type(key)).toBe("string");
      } finally {
        await store.close();
        await connection.quit();
      }
    });

    it("replays, reads, lists and deletes a completed record of the hash layout", async () => {
      const prefix = uniquePrefix();
      const now = Date.now();
      const { store, ref, client, key } = await legacyRecord(prefix, {
        state: "completed",
        created_at: String(now - 10),
        completed_at: String(now),
        expires_at: String(now + 60_000),
        status: "201",
        headers: JSON.stringify([["etag", '"a,b"']]),
        body_length: "11",
        chunk_count: "3",
        body_omitted: "0",
        chunk0: "zero",
        chunks_written: "3",
      });
      try {
        await client.set(`${key.slice(0, -1)}c:1`, "one", "PX", 60_000);
        await client.set(`${key.slice(0, -1)}c:2`, "two", "PX", 60_000);
        const expected = {
          state: "completed",
          ...ref,
          fingerprint: "fp",
          createdAt: now - 10,
          completedAt: now,
          expiresAt: now + 60_000,
          response: {
            status: 201,
            headers: [["etag", '"a,b"']],
            bodyLength: 11,
            chunkCount: 3,
            bodyOmitted: false,
          },
          firstChunk: bytes("zero"),
        };
        expect(await claim(store, ref)).toEqual({ outcome: "completed", record: expected });
        expect(await store.get(ref)).toEqual(expected);
        expect((await store.list()).records).toEqual([expected]);
        expect(await store.readChunk(ref, 0)).toEqual(bytes("zero"));
        expect(await store.readChunk(ref, 2)).toEqual(bytes("two"));
        expect(await store.readChunk(ref, 3)).toBeUndefined();
        expect(await store.delete(ref)).toBe(true);
        expect(await scanKeys(client, `${prefix}*`)).toEqual([]);
      } finally {
        await store.close();
      }
    });

    it("answers an in-flight record of the hash layout, and takes it over once its lease lapsed", async () => {
      const now = Date.now();
      const inFlight = { state: "in_flight", token: "old-owner", created_at: String(now - 10) };
      const { store, ref, client, key } = await legacyRecord(uniquePrefix(), {
        ...inFlight,
        lease_expires_at: String(now + 60_000),
      });
      try {
        const held = await claim(store, ref);
        expect(held.outcome === "in_flight" && [held.record.token, held.record.leaseExpiresAt]).toEqual([
          "old-owner",
          now + 60_000,
        ]);
        await client.hset(key, "lease_expires_at", String(now - 1));
        expect(await store.get(ref)).toBeUndefined();
        const taken = await claim(store, ref);
        expect(taken.outcome === "acquired" && taken.tookOver).toBe(true);
        expect(await client.type(key)).toBe("string");
        expect((await store.get(ref))?.state).toBe("in_flight");
      } finally {
        await store.close();
      }
    });
  });

  describe("RedisStore round trips", () => {
    let monitor: Redis;
    let client: Redis;
    let store: IdempotencyStore;
    let clientAddress: string;
    const prefix = uniquePrefix();
    const seen: { source: string; args: string[] }[] = [];

    beforeAll(async () => {
      client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
      await client.connect();
      clientAddress = /\baddr=(\S+)/.exec(String(await client.client("INFO")))?.[1] ?? "";
      store = await createRedisStore({ client, prefix });
      monitor = await startMonitor(url);
      monitor.on("monitor", (_time: string, args: string[], source: string) => seen.push({ source, args }));
    });
    afterAll(async () => {
      await store?.close();
      await client?.quit();
      monitor?.disconnect();
    });

    /**
     * The commands the store's connection sent while `action` ran, as the server saw them;
     * with `inScripts`, the commands its scripts ran on the store's keys instead.
     */
    async function commandsOf(action: () => unknown, inScripts = false): Promise<string[]> {
      const marker = randomUUID();
      const start = seen.length;
      await client.echo(`start ${marker}`);
      await action();
      await client.echo(`end ${marker}`);
      while (!seen.slice(start).some(({ args }) => args[1] === `end ${marker}`)) await sleep(10);
      const window = seen.slice(start);
      const from = window.findIndex(({ args }) => args[1] === `start ${marker}`);
      const to = window.findIndex(({ args }) => args[1] === `end ${marker}`);
      return window
        .slice(from + 1, to)
        .filter(({ source, args }) =>
          inScripts ? source === "lua" && String(args[1] ?? "").startsWith(prefix) : source === clientAddress,
        )
        .map(({ args }) => String(args[0]).toLowerCase());
    }

    it("sends one command per operation: a native SET for a claim that acquires or replays", async () => {
      const ref = { scope: "s", key: `round-trips-${randomUUID()}` };
      const other = { scope: "s", key: `other-${randomUUID()}` };
      let lease: Lease | undefined;
      let otherLease: Lease | undefined;
      const operations: [string, () => unknown, string[]][] = [
        ["claim (acquire)", async () => (lease = await acquire(store, ref)), ["set"]],
        // Only the server's clock tells whether the lease lapsed: the one case with two.
        ["claim (in flight)", () => claim(store, ref), ["set", "evalsha"]],
        ["renew", () => store.renew(lease as Lease, 60_000), ["evalsha"]],
        ["appendChunk", () => store.appendChunk(lease as Lease, 0, bytes("zero")), ["evalsha"]],
        [
          "complete",
          () =>
            store.complete(lease as Lease, {
              response: response(2, 7),
              finalChunk: bytes("one"),
              ttlMs: 60_000,
            }),
          ["evalsha"],
        ],
        ["claim (replay)", () => claim(store, ref), ["set"]],
        ["get", () => store.get(ref), ["evalsha"]],
        ["readChunk", () => store.readChunk(ref, 1), ["evalsha"]],
        ["claim (second key)", async () => (otherLease = await acquire(store, other)), ["set"]],
        ["release", () => store.release(otherLease as Lease), ["evalsha"]],
      ];
      const counts: Record<string, string[]> = {};
      for (const [name, action] of operations) counts[name] = await commandsOf(action);
      console.info("Redis commands per operation:", counts);
      for (const [name, , expected] of operations) {
        // ioredis sends EVAL instead of EVALSHA the first time a connection runs a script.
        expect(
          counts[name]?.map((command) => command.replace(/^eval$/, "evalsha")),
          name,
        ).toEqual(expected);
      }
    });

    it("replays with one native command, no script", async () => {
      const ref = { scope: "s", key: `replay-${randomUUID()}` };
      const lease = await acquire(store, ref);
      await store.complete(lease, { response: response(1, 3), finalChunk: bytes("one"), ttlMs: 60_000 });
      expect(await commandsOf(() => claim(store, ref))).toEqual(["set"]);
      expect(await commandsOf(() => claim(store, ref), true)).toEqual([]);
    });
  });

  describe("RedisStore at the edges", () => {
    it("keeps working with a grace and chunk counts that Lua would print with an exponent", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix(), leaseGrace: 1e14 });
      try {
        const ref = { scope: "s", key: "huge-grace" };
        const lease = await acquire(store, ref);
        expect(await store.appendChunk(lease, 0, bytes("zero"))).toBe(true);
        expect(await store.renew(lease, 60_000)).toBe(true);
        expect((await store.get(ref))?.state).toBe("in_flight");
        expect(
          await store.complete(lease, { response: response(1, 4), finalChunk: bytes("zero"), ttlMs: 60_000 }),
        ).toBe(true);
        expect((await store.get(ref))?.state).toBe("completed");
      } finally {
        await store.close();
      }
    });

    it("claims with a lease of 0 ms and no grace", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix(), leaseGrace: 0 });
      try {
        expect((await claim(store, { scope: "s", key: "zero" }, 0)).outcome).toBe("acquired");
      } finally {
        await store.close();
      }
    });

    it("answers a claim sent again with its token (a resend after a reconnect) as acquired", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix() });
      try {
        const input = { scope: "s", key: "resent", fingerprint: "fp", token: randomUUID(), leaseMs: 60_000 };
        expect((await store.claim(input)).outcome).toBe("acquired");
        expect(await store.claim(input)).toEqual({
          outcome: "acquired",
          lease: { scope: "s", key: "resent", token: input.token },
          tookOver: false,
        });
        expect((await claim(store, { scope: "s", key: "resent" })).outcome).toBe("in_flight");
      } finally {
        await store.close();
      }
    });

    it("reports a malformed in-flight value as corrupt, and deletes it", async () => {
      const prefix = uniquePrefix();
      const store = await createRedisStore({ url, prefix });
      try {
        const ref = { scope: "s", key: "malformed" };
        await acquire(store, ref);
        const client = await admin();
        const [key] = await scanKeys(client, `${prefix}*:r`);
        await client.set(key as string, "i3:abc-not-numbers", "PX", 60_000);
        await expect(claim(store, ref)).rejects.toBeInstanceOf(CorruptRecordError);
        await expect(store.get(ref)).rejects.toBeInstanceOf(CorruptRecordError);
        expect(await store.delete(ref)).toBe(true);
        expect(await scanKeys(client, `${prefix}*`)).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });

  describe("RedisStore calls it refuses", () => {
    it("answers every call after close() with StoreClosedError, though the client it was given is open", async () => {
      const client = new Redis(url, { lazyConnect: true });
      await client.connect();
      const store = await createRedisStore({ client, prefix: uniquePrefix() });
      try {
        const ref = { scope: "s", key: "closed" };
        const lease = await acquire(store, ref);
        await store.close();
        const body = bytes("x");
        const calls = {
          claim: () => claim(store, ref),
          renew: () => store.renew(lease, 1_000),
          appendChunk: () => store.appendChunk(lease, 1, body),
          complete: () => store.complete(lease, { response: response(1, 1), finalChunk: body, ttlMs: 1_000 }),
          release: () => store.release(lease),
          get: () => store.get(ref),
          readChunk: () => store.readChunk(ref, 1),
          delete: () => store.delete(ref),
          list: () => store.list(),
        };
        for (const [name, call] of Object.entries(calls)) {
          await expect(call(), name).rejects.toBeInstanceOf(StoreClosedError);
        }
      } finally {
        await client.quit();
      }
    });

    it("rejects a chunk index that is not a non-negative integer", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix() });
      try {
        const lease = await acquire(store, { scope: "s", key: "bad-index" });
        for (const index of [-1, 1.5, Number.NaN]) {
          await expect(store.appendChunk(lease, index, bytes("x")), String(index)).rejects.toBeInstanceOf(
            RangeError,
          );
          expect(await store.readChunk(lease, index), String(index)).toBeUndefined();
        }
      } finally {
        await store.close();
      }
    });
  });

  describe("RedisStore list", () => {
    it("lists only its own prefix, even when the prefix holds glob characters", async () => {
      const base = uniquePrefix();
      const globbing = await createRedisStore({ url, prefix: `${base}*?[x]\\:` });
      const other = await createRedisStore({ url, prefix: `${base}a?[x]\\:` });
      try {
        await acquire(globbing, { scope: "s", key: "mine" });
        await acquire(other, { scope: "s", key: "theirs" });
        const page = await globbing.list();
        expect(page.records.map((record) => record.key)).toEqual(["mine"]);
        expect(page.cursor).toBeUndefined();
      } finally {
        await globbing.close();
        await other.close();
      }
    });

    it("rejects a cursor it did not make and a limit below 1", async () => {
      const store = await createRedisStore({ url, prefix: uniquePrefix() });
      try {
        await expect(store.list({ cursor: "not-a-cursor" })).rejects.toBeInstanceOf(InvalidOptionError);
        await expect(store.list({ limit: 0 })).rejects.toBeInstanceOf(InvalidOptionError);
      } finally {
        await store.close();
      }
    });
  });

  describe("RedisStore with a client passed in", () => {
    it("leaves the client open on close()", async () => {
      const client = new Redis(url, { lazyConnect: true });
      await client.connect();
      try {
        const store = await createRedisStore({ client, prefix: uniquePrefix() });
        expect((await claim(store, { scope: "s", key: "k" })).outcome).toBe("acquired");
        await store.close();
        expect(await client.ping()).toBe("PONG");
      } finally {
        await client.quit();
      }
    });
  });
}

/**
 * A connection in MONITOR mode. ioredis 5 reports "Command queue state error" when a busy
 * server's first MONITOR lines come in the packet that carries the command's OK (other test
 * files use the same Redis): those lines predate every window the tests look at, so that
 * error is let pass while the mode starts; any other error fails the test.
 */
async function startMonitor(url: string): Promise<Redis> {
  const monitor = new Redis(url, { monitor: true, lazyConnect: true });
  let monitoring = false;
  monitor.on("error", (error: Error) => {
    if (monitoring || !error.message.startsWith("Command queue state error")) throw error;
  });
  const started = once(monitor, "monitoring");
  await monitor.connect();
  await started;
  monitoring = true;
  return monitor;
}
