import { randomUUID } from "node:crypto";
import { afterAll, describe, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { connectRedis, type OwnedClient } from "../../src/stores/redis/connection.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";
import { storeConformanceSuite } from "../../src/testing/index.js";

/** A key prefix no other store, test or run shares. */
export function uniquePrefix(): string {
  return `oncely-test:${randomUUID()}:`;
}

/** A client for looking at and damaging what the store wrote, closed after the file's tests. */
export function adminClient(url: string): () => Promise<OwnedClient> {
  let client: Promise<OwnedClient> | undefined;
  afterAll(async () => {
    await (await client)?.quit();
  });
  return () => {
    client ??= connectRedis(parseRedisUrl(url), 5_000);
    return client;
  };
}

/** Every key matching `pattern`, on every master of a cluster. */
export async function scanKeys(client: OwnedClient, pattern: string): Promise<string[]> {
  const nodes = "nodes" in client ? client.nodes("master") : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== "0");
  }
  return keys;
}

/**
 * Runs the store conformance suite against the Redis deployment at `url`, each store
 * under its own prefix.
 */
export function redisConformanceSuite(name: string, url: string): void {
  const admin = adminClient(url);
  const prefixes = new WeakMap<IdempotencyStore, string>();

  storeConformanceSuite({
    name,
    async create() {
      const prefix = uniquePrefix();
      // A short grace, so that the test's abandoned in-flight records leave soon.
      const store = await createRedisStore({ url, prefix, leaseGrace: 10_000 });
      prefixes.set(store, prefix);
      return store;
    },
    // Through a second connection, as a foreign writer would: headers that are not JSON
    // (trailing text after the headers that end a completed record's meta), and on an
    // in-flight record a state nobody knows.
    async corrupt(store, ref) {
      const client = await admin();
      for (const key of await scanKeys(client, `${prefixes.get(store)}*:r`)) {
        const [scope, recordKey, state, meta] = await client.hmget(key, "scope", "key", "state", "meta");
        if (scope !== ref.scope || recordKey !== ref.key) continue;
        if (meta !== null) await client.hset(key, "meta", `${meta}x`);
        await client.hset(
          key,
          "headers",
          '[["content-type"',
          "state",
          state === "completed" ? state : "paused",
        );
      }
    },
    describe,
    // Every key carries a PEXPIRE: Redis deletes expired records by itself.
    expiresByItself: true,
    it,
  });
}
