/**
 * Store options that lost their `Ms` suffix keep the old name as a deprecated alias,
 * resolved where each store applies its defaults: the old name still sets the option, and
 * both names with different values are refused, naming both.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidOptionError } from "../../src/core/errors.js";
import { createMemoryStore, type MemoryStore, memoryStoreFromUrl } from "../../src/stores/memory/index.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";

const dir = mkdtempSync(join(tmpdir(), "oncely-aliases-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Nothing listens on port 1: a store that got past its options would fail to connect, not pass. */
const NOWHERE = "127.0.0.1:1";

type Options = Record<string, number>;

/** One renamed option of one store, and how to create that store with extra options. */
interface Renamed {
  readonly store: string;
  readonly name: string;
  readonly alias: string;
  readonly create: (options: Options) => Promise<{ close(): Promise<void> }>;
}

const RENAMED: readonly Renamed[] = [
  {
    store: "memory",
    name: "purgeInterval",
    alias: "purgeIntervalMs",
    create: async (o) => createMemoryStore(o),
  },
  {
    store: "SQLite",
    name: "purgeInterval",
    alias: "purgeIntervalMs",
    create: (o) => createSqliteStore({ path: join(dir, `${randomUUID()}.db`), ...o }),
  },
  {
    store: "SQLite",
    name: "busyTimeout",
    alias: "busyTimeoutMs",
    create: (o) => createSqliteStore({ path: join(dir, `${randomUUID()}.db`), ...o }),
  },
  ...(["purgeInterval", "connectTimeout", "queryTimeout"] as const).map((name) => ({
    store: "PostgreSQL",
    name,
    alias: `${name}Ms`,
    create: (o: Options) => createPostgresStore({ url: `postgres://${NOWHERE}/none`, ...o }),
  })),
  ...(["timeout", "leaseGrace"] as const).map((name) => ({
    store: "Redis",
    name,
    alias: `${name}Ms`,
    create: (o: Options) => createRedisStore({ url: `redis://${NOWHERE}`, ...o }),
  })),
];

describe("deprecated store option names", () => {
  for (const { store, name, alias, create } of RENAMED) {
    it(`${store}: ${alias} still sets ${name}`, async () => {
      // An out-of-range value given under the old name is checked as the option's value.
      await expect(create({ [alias]: -1 })).rejects.toThrow(new RegExp(`\\b${name} must be .*got -1$`));
    });

    it(`${store}: ${name} and ${alias} with different values is an error naming both`, async () => {
      const attempt = create({ [name]: 1_000, [alias]: 2_000 });
      await expect(attempt).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(attempt).rejects.toThrow(`${name} and ${alias} (its deprecated name) are both given`);
    });
  }

  it("memory: the same value under both names is no conflict", async () => {
    await createMemoryStore({ purgeInterval: 0, purgeIntervalMs: 0 }).close();
  });

  it("memory: purgeIntervalMs, as an option or in the URL, runs the background purge at that interval", async () => {
    for (const store of [
      createMemoryStore({ purgeIntervalMs: 20 }),
      memoryStoreFromUrl("memory:?purgeIntervalMs=20"),
    ]) {
      try {
        await completeExpiring(store);
        expect(store.size.entries).toBe(1);
        // Only the purge timer removes a record nobody reads; at the default interval it would stay a minute.
        await until(() => store.size.entries === 0);
      } finally {
        await store.close();
      }
    }
  });

  it("memory: a URL with both names and different values is an error naming both", () => {
    expect(() => memoryStoreFromUrl("memory:?purgeInterval=0&purgeIntervalMs=20")).toThrow(
      "purgeInterval and purgeIntervalMs (its deprecated name) are both given",
    );
  });
});

/** Claims and completes a record that expires after 1 ms. */
async function completeExpiring(store: MemoryStore): Promise<void> {
  const claim = await store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 60_000 });
  if (claim.outcome !== "acquired") throw new Error(`claim returned ${claim.outcome}`);
  const response = { status: 200, headers: [], bodyLength: 0, chunkCount: 0, bodyOmitted: false };
  await store.complete(claim.lease, { response, finalChunk: new Uint8Array(0), ttlMs: 1 });
}

async function until(condition: () => boolean, timeout = 2_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
