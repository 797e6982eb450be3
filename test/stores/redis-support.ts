import { randomUUID } from "node:crypto";
import { afterAll, describe, it } from "vitest";
import type { IdempotencyStore } from "../../src/store.js";
import { connectRedis, type OwnedClient } from "../../src/stores/redis/connection.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";
import { storeConformanceSuite } from "../../src/testing/index.js";

/** `<byte length>:<text>`, as the store's record values write scope and key. */
function sized(text: string): string {
  return `${Buffer.byteLength(text)}:${text}`;
}

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
    // Through a second connection, as a foreign writer would: on a completed record,
    // headers that are not JSON; on an in-flight record, a shape nobody knows.
    async corrupt(store, ref) {
      const client = await admin();
      const owner = `${sized(ref.scope)}${sized(ref.key)}`;
      for (const key of await scanKeys(client, `${prefixes.get(store)}*:r`)) {
        const value = await client.getBuffer(key);
        if (value === null) continue;
        const inFlightEnd = Buffer.from(`${sized(ref.scope)}${ref.key}`);
        if (value[0] === 0x69 && value.subarray(-inFlightEnd.length).equals(inFlightEnd)) {
          await client.setrange(key, 0, "p");
        } else if (value.includes(owner)) {
          // The headers are the first JSON list of a completed value: `[` becomes `{`.
          await client.setrange(key, value.indexOf(":[") + 1, "{");
        }
      }
    },
    describe,
    // Every key carries a PEXPIRE: Redis deletes expired records by itself.
    expiresByItself: true,
    it,
  });
}
