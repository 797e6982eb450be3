import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { IdempotencyStore, InFlightRecord, Lease, StoredResponse } from "../../src/store.js";
import { createMemoryStore } from "../../src/stores/memory/index.js";
import { createPostgresStore } from "../../src/stores/postgres/index.js";
import { createRedisStore } from "../../src/stores/redis/index.js";
import { parseRedisUrl } from "../../src/stores/redis/url.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { guardedServer } from "../helpers/guarded.js";
import { newKey, send } from "../helpers/http.js";
import { serviceUrl } from "../helpers/services.js";
import { claimed } from "../helpers/stores.js";
import { uniquePrefix } from "./redis-support.js";

/** A store that lets duplicates wait without polling, and tells how many wait. */
type WaitingStore = IdempotencyStore & {
  waitForChange?: (record: InFlightRecord, timeoutMs: number) => Promise<void>;
  readonly waiting: number;
};

/** Two instances on one backend (two connections, as two processes would have), and how to cut the listener. */
interface Backend {
  readonly first: WaitingStore;
  readonly second: WaitingStore;
  /** Kills the second instance's listening connection on the server; resolves with how many were killed. */
  readonly killListener?: () => Promise<number>;
  /** Closes what the test opened besides the stores. */
  readonly cleanup?: () => Promise<void>;
}

async function closeAll({ first, second, cleanup }: Backend): Promise<void> {
  await Promise.all([first.close(), second.close()]);
  await cleanup?.();
}

/** Far longer than any wake-up: a waiter that only its timeout ends fails the checks below. */
const WAIT_MS = 8_000;
/** A waiter that is woken by a notification resumes well within this, even on a loaded machine. */
const PROMPT_MS = 2_500;

const response: StoredResponse = {
  status: 201,
  headers: [],
  bodyLength: 2,
  chunkCount: 1,
  bodyOmitted: false,
};
const bytes = new TextEncoder().encode("ok");

async function acquire(store: IdempotencyStore, key: string): Promise<Lease> {
  const result = await store.claim({
    scope: "s",
    key,
    fingerprint: "fp",
    token: randomUUID(),
    leaseMs: 60_000,
  });
  if (result.outcome !== "acquired") throw new Error(`expected to acquire ${key}, got ${result.outcome}`);
  return result.lease;
}

async function inFlight(store: IdempotencyStore, key: string): Promise<InFlightRecord> {
  const result = await store.claim({
    scope: "s",
    key,
    fingerprint: "fp",
    token: randomUUID(),
    leaseMs: 60_000,
  });
  if (result.outcome !== "in_flight") throw new Error(`expected ${key} in flight, got ${result.outcome}`);
  return result.record;
}

/** Starts a wait and resolves with how long after `since()` it ended. */
async function timedWait(store: WaitingStore, record: InFlightRecord, timeoutMs = WAIT_MS) {
  if (!store.waitForChange) throw new Error("the store cannot wait for changes");
  await store.waitForChange(record, timeoutMs);
  return performance.now();
}

/** Waits until `check` holds, for at most `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(20);
  }
}

/**
 * @param crossInstance whether the owner and the waiter are two instances (else one)
 * @param pollMs the longest the store lets a waiter sleep without a look (SQLite: other processes' writes wake nobody)
 */
function waiterSuite(
  name: string,
  open: () => Promise<Backend>,
  crossInstance: boolean,
  pollMs = Number.POSITIVE_INFINITY,
): void {
  describe(`waiting duplicates on ${name}`, () => {
    const backends: Backend[] = [];
    afterAll(async () => {
      for (const opened of backends) await closeAll(opened);
    });
    const backend = async () => {
      const opened = await open();
      backends.push(opened);
      return opened;
    };
    const [owner, waiter] = crossInstance ? (["first", "second"] as const) : (["first", "first"] as const);

    it(`wakes a waiter promptly when the key completes${crossInstance ? " in another instance" : ""}, and the waiter then gets the replay`, async () => {
      const stores = await backend();
      const key = randomUUID();
      const lease = await acquire(stores[owner], key);
      const record = await inFlight(stores[waiter], key);
      const woken = timedWait(stores[waiter], record);
      await eventually(() => stores[waiter].waiting === 1);
      // Give the store time to listen and mark the record before the completion.
      await sleep(300);
      const completedAt = performance.now();
      expect(await stores[owner].complete(lease, { response, finalChunk: bytes, ttlMs: 60_000 })).toBe(true);
      expect((await woken) - completedAt).toBeLessThan(PROMPT_MS);
      expect(stores[waiter].waiting).toBe(0);
      const replay = await stores[waiter].claim({
        scope: "s",
        key,
        fingerprint: "fp",
        token: randomUUID(),
        leaseMs: 1_000,
      });
      expect(replay.outcome).toBe("completed");
    });

    it("wakes every waiter of a released key, and the next claim acquires it", async () => {
      const stores = await backend();
      const key = randomUUID();
      const lease = await acquire(stores[owner], key);
      const record = await inFlight(stores[waiter], key);
      const woken = Array.from({ length: 20 }, () => timedWait(stores[waiter], record));
      await eventually(() => stores[waiter].waiting === 20);
      await sleep(300);
      const releasedAt = performance.now();
      expect(await stores[owner].release(lease)).toBe(true);
      for (const at of await Promise.all(woken)) expect(at - releasedAt).toBeLessThan(PROMPT_MS);
      expect(
        (
          await stores[waiter].claim({
            scope: "s",
            key,
            fingerprint: "fp",
            token: randomUUID(),
            leaseMs: 1_000,
          })
        ).outcome,
      ).toBe("acquired");
    });

    it("returns at once when the record changed before the wait began", async () => {
      const stores = await backend();
      const key = randomUUID();
      const lease = await acquire(stores[owner], key);
      const record = await inFlight(stores[waiter], key);
      await stores[owner].complete(lease, { response, finalChunk: bytes, ttlMs: 60_000 });
      const startedAt = performance.now();
      expect((await timedWait(stores[waiter], record)) - startedAt).toBeLessThan(PROMPT_MS);
    });

    it("removes waiters whose wait timed out, however many", async () => {
      const stores = await backend();
      const key = randomUUID();
      await acquire(stores[owner], key);
      const record = await inFlight(stores[waiter], key);
      const startedAt = performance.now();
      const waits = Array.from({ length: 100 }, () => timedWait(stores[waiter], record, 300));
      expect(stores[waiter].waiting).toBe(100);
      for (const at of await Promise.all(waits))
        expect(at - startedAt).toBeGreaterThanOrEqual(Math.min(300, pollMs) - 10);
      expect(stores[waiter].waiting).toBe(0);
    });
  });
}

function killableSuite(name: string, open: () => Promise<Backend>): void {
  it(`recovers on ${name} when its listening connection is killed: waiters are woken to look again, and later waits are notified`, async () => {
    const stores = await open();
    try {
      const { first, second, killListener } = stores;
      if (!killListener) throw new Error("no way to kill the listener");
      const key = randomUUID();
      const lease = await acquire(first, key);
      const record = await inFlight(second, key);
      const before = timedWait(second, record);
      await sleep(500);
      const killedAt = performance.now();
      expect(await killListener()).toBe(1);
      // Notifications may have been lost while the connection was down: the waiter looks again.
      expect((await before) - killedAt).toBeLessThan(PROMPT_MS);
      const again = timedWait(second, await inFlight(second, key));
      await sleep(500);
      const completedAt = performance.now();
      await first.complete(lease, { response, finalChunk: bytes, ttlMs: 60_000 });
      expect((await again) - completedAt).toBeLessThan(PROMPT_MS);
    } finally {
      await closeAll(stores);
    }
  });
}

/** In-process stores wake their waiters from the write itself, before the write's own caller resumes. */
function directWakeSuite(name: string, open: () => Promise<WaitingStore>): void {
  it(`wakes the waiters of ${name} from the completing write itself, before any poll`, async () => {
    const store = await open();
    try {
      const key = randomUUID();
      const lease = await acquire(store, key);
      const record = await inFlight(store, key);
      const order: string[] = [];
      // Straight on the store's promise: no await in between that would shift the order.
      const woken = store.waitForChange?.(record, WAIT_MS).then(() => order.push("woken"));
      await store.complete(lease, { response, finalChunk: bytes, ttlMs: 60_000 });
      order.push("completed");
      await woken;
      expect(order).toEqual(["woken", "completed"]);
    } finally {
      await store.close();
    }
  });
}

describe("in-process stores", () => {
  waiterSuite(
    "memory",
    async () => {
      const store = createMemoryStore() as unknown as WaitingStore;
      return { first: store, second: store };
    },
    false,
  );
  const directory = mkdtempSync(join(tmpdir(), "oncely-waiters-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  directWakeSuite("memory", async () => createMemoryStore() as unknown as WaitingStore);
  directWakeSuite(
    "SQLite",
    async () =>
      (await createSqliteStore({ path: join(directory, `${randomUUID()}.db`) })) as unknown as WaitingStore,
  );
  waiterSuite(
    "SQLite",
    async () => {
      const store = (await createSqliteStore({
        path: join(directory, `${randomUUID()}.db`),
      })) as unknown as WaitingStore;
      return { first: store, second: store };
    },
    false,
    250,
  );
});

const postgresUrl = serviceUrl("ONCELY_TEST_POSTGRES_URL", "waiting duplicates on PostgreSQL");
/** Tables the PostgreSQL tests created, dropped after the file's tests. */
const tables: string[] = [];
function uniqueTable(): string {
  const table = `waiters_${randomUUID().replaceAll("-", "")}`;
  tables.push(table);
  return table;
}
if (postgresUrl) {
  const admin = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  afterAll(async () => {
    for (const table of tables) await admin.query(`DROP TABLE IF EXISTS ${table}_chunks, ${table}_records`);
    await admin.end();
  });
  const open = async (): Promise<Backend> => {
    const table = uniqueTable();
    const name = `oncely-test-${randomUUID()}`;
    const listenerUrl = new URL(postgresUrl);
    listenerUrl.searchParams.set("application_name", name);
    const first = await createPostgresStore({ url: postgresUrl, table, purgeInterval: 0 });
    const second = await createPostgresStore({ url: listenerUrl.href, table, purgeInterval: 0 });
    return {
      first: first as unknown as WaitingStore,
      second: second as unknown as WaitingStore,
      async killListener() {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN%'`,
          [name],
        );
        return rows.length;
      },
    };
  };
  waiterSuite("PostgreSQL", open, true);
  describe("PostgreSQL listener", () => killableSuite("PostgreSQL", open));
}

for (const [label, variable] of [
  ["Redis", "ONCELY_TEST_REDIS_URL"],
  ["Redis Cluster", "ONCELY_TEST_REDIS_CLUSTER_URL"],
] as const) {
  const url = serviceUrl(variable, `waiting duplicates on ${label}`);
  if (!url) continue;
  const open = async (): Promise<Backend> => {
    const prefix = uniquePrefix();
    const first = await createRedisStore({ url, prefix });
    // A client of the test's own, so that its subscriber (a duplicate) carries a name only it has.
    const connectionName = `oncely-test-${randomUUID()}`;
    const target = parseRedisUrl(url);
    const client =
      target.mode === "cluster"
        ? new Redis.Cluster([...target.nodes], { redisOptions: { connectionName } })
        : new Redis({ ...target.nodes[0], db: target.db, connectionName });
    const second = await createRedisStore({ client, prefix });
    return {
      first: first as unknown as WaitingStore,
      second: second as unknown as WaitingStore,
      async killListener() {
        let killed = 0;
        const nodes = client instanceof Redis ? [client] : client.nodes("master");
        for (const node of nodes) {
          const list = String(await node.call("CLIENT", "LIST", "TYPE", "pubsub"));
          for (const line of list.split("\n")) {
            if (!line.includes(` name=${connectionName} `) || !/ sub=1 /.test(line)) continue;
            const id = /\bid=(\d+)/.exec(line)?.[1];
            if (id) killed += Number(await node.call("CLIENT", "KILL", "ID", id));
          }
        }
        return killed;
      },
      async cleanup() {
        await client.quit();
      },
    };
  };
  waiterSuite(label, open, true);
  describe(`${label} subscriber`, () => killableSuite(label, open));
}

/** `store`, counting the claims sent through it. */
function countingClaims(store: IdempotencyStore): { store: IdempotencyStore; claims: () => number } {
  let claims = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === "claim") {
        return (input: Parameters<IdempotencyStore["claim"]>[0]) => {
          claims++;
          return target.claim(input);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: counted, claims: () => claims };
}

describe("the engine's `wait` on a store that reports changes", () => {
  const cases: [string, () => Promise<IdempotencyStore>][] = [["memory", async () => createMemoryStore()]];
  const redisUrl = process.env.ONCELY_TEST_REDIS_URL;
  if (redisUrl) cases.push(["Redis", () => createRedisStore({ url: redisUrl, prefix: uniquePrefix() })]);
  if (postgresUrl) {
    cases.push(["PostgreSQL", () => createPostgresStore({ url: postgresUrl, table: uniqueTable() })]);
  }
  for (const [name, create] of cases) {
    it(`lets a duplicate claim again only when woken, not on a polling schedule (${name})`, async () => {
      const { store, claims } = countingClaims(await create());
      // Polling would claim ~10 times in 1.5 s (pauses of 20 ms doubling to 250 ms).
      const server = await guardedServer(store, { wait: 10_000 }, async (_req, res) => {
        await sleep(1_500);
        res.end("original");
      });
      try {
        const key = newKey();
        const original = send(server.url, { headers: { "idempotency-key": key } });
        await claimed(store, key);
        const before = claims();
        const duplicate = await send(server.url, { headers: { "idempotency-key": key } });
        expect(duplicate.text).toBe("original");
        expect(duplicate.headers.get("x-idempotency-replayed")).toBe("true");
        // The first claim, one safety look after 1 s, and the claim after the wake-up.
        expect(claims() - before).toBeLessThanOrEqual(3);
        await original;
      } finally {
        await server.close();
        await store.close();
      }
    });

    it(`lets duplicates woken together share one claim (${name})`, async () => {
      const { store, claims } = countingClaims(await create());
      const server = await guardedServer(store, { wait: 10_000 }, async (_req, res) => {
        // Shorter than the first safety look (0.8 s at the earliest): only the wake-up ends the waits.
        await sleep(600);
        res.end("original");
      });
      try {
        const key = newKey();
        const original = send(server.url, { headers: { "idempotency-key": key } });
        await claimed(store, key);
        const before = claims();
        const duplicates = await Promise.all(
          Array.from({ length: 50 }, () => send(server.url, { headers: { "idempotency-key": key } })),
        );
        expect(duplicates.map((reply) => reply.text)).toEqual(Array(50).fill("original"));
        // One claim each on arrival, then one for all after the wake-up (a few if it straddles
        // claims still on their way); a claim each again would make 100.
        expect(claims() - before).toBeLessThanOrEqual(55);
        await original;
      } finally {
        await server.close();
        await store.close();
      }
    });
  }
});
