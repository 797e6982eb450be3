import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { InvalidOptionError, InvalidStoreUrlError, StoreUnavailableError } from "../../src/core/errors.js";
import type { ClaimInput, IdempotencyStore, Lease, StoredResponse } from "../../src/store.js";
import { createStore } from "../../src/stores/create-store.js";
import {
  createPostgresStore,
  migrate,
  type PostgresPool,
  PostgresStore,
  postgresStoreFromUrl,
} from "../../src/stores/postgres/index.js";
import type { PostgresStatement } from "../../src/stores/postgres/pool.js";
import { storeConformanceSuite } from "../../src/testing/index.js";
import { serviceUrl } from "../helpers/services.js";

const url = serviceUrl("ONCELY_TEST_POSTGRES_URL", "PostgreSQL store");

describe("PostgreSQL store URLs and options (no server needed)", () => {
  it("rejects a malformed URL without showing the password", async () => {
    for (const bad of [
      "postgres://user:s3cret@host:99999/db",
      "postgres://user:s3cret@host/db?table=no-dash",
    ]) {
      const error = await postgresStoreFromUrl(bad).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidStoreUrlError);
      expect((error as Error).message).not.toContain("s3cret");
    }
    const viaCreateStore = await createStore("postgresql://u:s3cret@h/db?table=a&table=b").catch(
      (e: unknown) => e,
    );
    expect(viaCreateStore).toBeInstanceOf(InvalidStoreUrlError);
    expect((viaCreateStore as Error).message).not.toContain("s3cret");
  });

  it("rejects table and schema names that are not plain identifiers", async () => {
    const pool: PostgresPool = { query: () => Promise.reject(new Error("not reached")) };
    for (const table of ["", "a b", 'x"; DROP TABLE y; --', "9lives", "x".repeat(44)]) {
      await expect(createPostgresStore({ pool, table, purgeInterval: 0 })).rejects.toBeInstanceOf(
        InvalidOptionError,
      );
    }
    await expect(createPostgresStore({ pool, schema: "pub.lic", purgeInterval: 0 })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
  });
});

if (url) registerServerTests(url);

function registerServerTests(url: string): void {
  /** A connection of the tests' own, to damage rows and drop what the stores created. */
  const admin = new pg.Pool({ connectionString: url, max: 4 });
  const tables = new Set<string>();
  const tableOf = new WeakMap<IdempotencyStore, string>();

  /** A table prefix no other test uses; its objects are dropped after the file's tests. */
  const freshTable = (): string => {
    const table = `oncely_test_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
    tables.add(table);
    return table;
  };

  afterAll(async () => {
    for (const table of tables) {
      await admin.query(`DROP TABLE IF EXISTS "${table}_chunks", "${table}_records"`);
    }
    await admin.end();
  });

  storeConformanceSuite({
    name: "PostgresStore",
    async create() {
      const table = freshTable();
      const store = await createPostgresStore({ url, table });
      tableOf.set(store, table);
      return store;
    },
    // As a foreign writer would: headers that are not pairs on a completed record, a
    // state nobody knows on an in-flight one.
    async corrupt(store, { scope, key }) {
      const table = tableOf.get(store);
      if (table === undefined) throw new Error("corrupt() got a store that create() did not make");
      await admin.query(
        `UPDATE "${table}_records"
            SET headers = '[["content-type"]]', state = CASE state WHEN 'completed' THEN state ELSE 'paused' END
          WHERE scope = $1 AND key = $2`,
        [scope, key],
      );
    },
    describe,
    it,
  });

  describe("PostgresStore round trips", () => {
    it("sends one query per append, complete, renew, release, get and readChunk, and per claim of the kind the last claim was, one more per claim of the other kind and per read of a body longer than one chunk", async () => {
      const counted = countingPool(admin);
      const store = await createPostgresStore({
        pool: counted.pool,
        table: freshTable(),
        purgeInterval: 0,
      });
      try {
        // The first call also creates the tables: one query more, once per store. A new
        // store expects a record: the claim reads, then inserts.
        const warmUp = claimInput();
        expect(await store.claim(warmUp)).toMatchObject({ outcome: "acquired" });
        expect(counted.take()).toBe(3);

        const input = claimInput();
        const lease: Lease = { scope: input.scope, key: input.key, token: input.token };
        const measured: Record<string, number> = {};
        const measure = async (name: string, call: () => Promise<unknown>) => {
          await call();
          measured[name] = counted.take();
        };
        await measure("claim after a new key", async () =>
          expect((await store.claim(input)).outcome).toBe("acquired"),
        );
        await measure("claim of a held key after a new key", async () =>
          expect((await store.claim(claimInput(input))).outcome).toBe("in_flight"),
        );
        await measure("renew", async () => expect(await store.renew(lease, 60_000)).toBe(true));
        await measure("appendChunk", async () =>
          expect(await store.appendChunk(lease, 0, bytes("a"))).toBe(true),
        );
        await measure("complete", async () =>
          expect(await store.complete(lease, completion([bytes("a"), bytes("b")]))).toBe(true),
        );
        await measure("replay after a found key", async () =>
          expect(await store.claim(claimInput(input))).toMatchObject({ outcome: "completed" }),
        );
        await measure("get", async () => expect((await store.get(input))?.state).toBe("completed"));
        await measure("readChunk", async () => expect(await store.readChunk(input, 1)).toEqual(bytes("b")));
        // A body of one chunk lives in its record's row: its replay is the one read.
        const single = claimInput();
        const singleLease: Lease = { scope: single.scope, key: single.key, token: single.token };
        await store.claim(single);
        await store.complete(singleLease, completion([bytes("c")]));
        await store.claim(claimInput(single));
        counted.take();
        await measure("replay of a one-chunk body after a found key", async () =>
          expect(await store.claim(claimInput(single))).toMatchObject({ outcome: "completed" }),
        );
        const other = claimInput();
        await store.claim(other);
        counted.take();
        await measure("release", async () => expect(await store.release(other)).toBe(true));
        const lapsed = { ...claimInput(), leaseMs: 1 };
        await store.claim(lapsed);
        counted.take();
        await sleep(20);
        await measure("takeover after a new key", async () =>
          expect(await store.claim(claimInput(lapsed))).toMatchObject({
            outcome: "acquired",
            tookOver: true,
          }),
        );
        await measure("replay after a new key", async () =>
          expect(await store.claim(claimInput(input))).toMatchObject({ outcome: "completed" }),
        );
        await measure("claim after a found key", async () =>
          expect((await store.claim(claimInput())).outcome).toBe("acquired"),
        );
        expect(measured).toEqual({
          "claim after a new key": 1,
          "claim of a held key after a new key": 2,
          renew: 1,
          appendChunk: 1,
          complete: 1,
          // A body of two chunks: chunk 0 is in the chunks table, which a second read takes.
          "replay after a found key": 2,
          get: 2,
          readChunk: 1,
          "replay of a one-chunk body after a found key": 1,
          release: 1,
          "takeover after a new key": 3,
          "replay after a new key": 3,
          "claim after a found key": 2,
        });
      } finally {
        await store.close();
      }
    });

    it("replays a one-chunk body with one read-only statement, one indexed read of the record", async () => {
      const counted = countingPool(admin);
      const table = freshTable();
      const store = await createPostgresStore({ pool: counted.pool, table, purgeInterval: 0 });
      try {
        const input = claimInput();
        const claimed = await store.claim(input);
        if (claimed.outcome !== "acquired") throw new Error("expected to acquire");
        expect(await store.complete(claimed.lease, completion([bytes("a")]))).toBe(true);
        counted.statements.length = 0;
        // Once a claim found a record, the next one starts by reading.
        expect(await store.claim(claimInput(input))).toMatchObject({ outcome: "completed" });
        counted.statements.length = 0;
        const replay = claimInput(input);
        expect(await store.claim(replay)).toMatchObject({ outcome: "completed" });
        const [read, ...others] = counted.statements;
        expect(others).toEqual([]);
        if (!read?.name?.startsWith("oncely_read_")) throw new Error("the replay sent no read");
        const nodes = await executedPlanNodes(read.text, [replay.scope, replay.key]);
        const scans = nodes.filter((node) => /Scan/.test(node["Node Type"]));
        expect(scans.map((node) => node["Index Name"]).sort()).toEqual([`${table}_records_pkey`]);
        expect(nodes.filter((node) => node["Node Type"] === "ModifyTable")).toEqual([]);
      } finally {
        await store.close();
      }
    });

    it("sends named prepared statements, or unnamed ones with preparedStatements: false", async () => {
      for (const preparedStatements of [true, false]) {
        const counted = countingPool(admin);
        const store = await createPostgresStore({
          pool: counted.pool,
          table: freshTable(),
          purgeInterval: 0,
          preparedStatements,
        });
        try {
          const input = claimInput();
          const claimed = await store.claim(input);
          if (claimed.outcome !== "acquired") throw new Error("expected to acquire");
          expect(await store.complete(claimed.lease, completion([bytes("a")]))).toBe(true);
          expect(await store.claim(claimInput(input))).toMatchObject({ outcome: "completed" });
          // read and insert, complete, then insert refused and read: the last claim acquired.
          expect(counted.names).toHaveLength(5);
          for (const name of counted.names) {
            if (preparedStatements)
              expect(name).toMatch(/^oncely_(read|claimFree|complete|completeOne)_[\w-]{12}$/);
            else expect(name).toBeUndefined();
          }
        } finally {
          await store.close();
        }
      }
    });

    it("creates its tables LOGGED unless told UNLOGGED, as a store and through migrate()", async () => {
      const viaStore = async (table: string, options: { unlogged?: boolean }) => {
        const store = await createPostgresStore({ pool: admin, table, purgeInterval: 0, ...options });
        try {
          await store.claim(claimInput());
        } finally {
          await store.close();
        }
      };
      const viaMigrate = (table: string, options: { unlogged?: boolean }) =>
        migrate(admin, { table, ...options });
      for (const create of [viaStore, viaMigrate]) {
        for (const [options, persistence] of [
          [{}, "p"],
          [{ unlogged: true }, "u"],
        ] as const) {
          const table = freshTable();
          await create(table, options);
          const { rows } = await admin.query(
            "SELECT relname, relpersistence FROM pg_class WHERE relname = ANY($1) ORDER BY relname",
            [[`${table}_chunks`, `${table}_records`]],
          );
          expect(rows).toEqual([
            { relname: `${table}_chunks`, relpersistence: persistence },
            { relname: `${table}_records`, relpersistence: persistence },
          ]);
        }
      }
    });

    // Unless told off, the store leaves the setting to the server, whose default (here too) is on.
    it("commits with the server's synchronous_commit (on) unless told off, on the connections of the pool it creates", async () => {
      for (const [options, setting] of [
        [{}, "on"],
        [{ synchronousCommit: false }, "off"],
      ] as const) {
        const table = freshTable();
        // The setting belongs to each session, and no view shows another session's: a
        // trigger writes the inserting session's into the record, and only the store inserts.
        await migrate(admin, { table });
        await admin.query(`
          CREATE FUNCTION "${table}_note"() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            NEW.fingerprint := current_setting('synchronous_commit');
            RETURN NEW;
          END $$;
          CREATE TRIGGER note BEFORE INSERT ON "${table}_records"
            FOR EACH ROW EXECUTE FUNCTION "${table}_note"()`);
        const store = await createPostgresStore({ url, table, purgeInterval: 0, ...options });
        try {
          expect(await store.claim(claimInput())).toMatchObject({ outcome: "acquired" });
          const { rows } = await admin.query(`SELECT fingerprint FROM "${table}_records"`);
          expect(rows).toEqual([{ fingerprint: setting }]);
        } finally {
          await store.close();
          await admin.query(`DROP FUNCTION IF EXISTS "${table}_note"() CASCADE`);
        }
      }
    });

    it("leaves a pool it was given open, and ends one it created", async () => {
      const store = await createPostgresStore({ pool: admin, table: freshTable(), purgeInterval: 0 });
      await store.claim(claimInput());
      await store.close();
      expect((await admin.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

      const pool = new pg.Pool({ connectionString: url });
      const owned = new PostgresStore(pool, {
        table: freshTable(),
        purgeInterval: 0,
        endPool: () => pool.end(),
      });
      await owned.claim(claimInput());
      await owned.close();
      expect(pool.ended).toBe(true);
    });
  });

  describe("PostgresStore storage", () => {
    it("leaves no chunk behind an omitted body, a release, a takeover, a delete or a purge", async () => {
      const table = freshTable();
      const store = await createPostgresStore({ url, table, purgeInterval: 0 });
      const chunkRows = async () =>
        Number((await admin.query(`SELECT count(*) AS n FROM "${table}_chunks"`)).rows[0]?.n);
      const completeWithTwoChunks = async (input: ClaimInput, ttlMs = 60_000) => {
        expect((await store.claim(input)).outcome).toBe("acquired");
        expect(await store.appendChunk(input, 0, bytes("first"))).toBe(true);
        expect(await store.complete(input, completion([bytes("first"), bytes("second")], ttlMs))).toBe(true);
      };
      try {
        const omitted = claimInput();
        await store.claim(omitted);
        await store.appendChunk(omitted, 0, bytes("secret"));
        const omittedResponse = { ...completion([]).response, bodyOmitted: true };
        expect(
          await store.complete(omitted, {
            response: omittedResponse,
            finalChunk: new Uint8Array(0),
            ttlMs: 60_000,
          }),
        ).toBe(true);
        expect(await chunkRows()).toBe(0);

        const released = claimInput();
        await store.claim(released);
        await store.appendChunk(released, 0, bytes("partial"));
        expect(await chunkRows()).toBe(1);
        expect(await store.release(released)).toBe(true);
        expect(await chunkRows()).toBe(0);

        const lapsed = { ...claimInput(), leaseMs: 50 };
        await store.claim(lapsed);
        await store.appendChunk(lapsed, 0, bytes("partial"));
        const expired = claimInput();
        await completeWithTwoChunks(expired, 50);
        expect(await chunkRows()).toBe(3);
        await sleep(150);
        for (const ref of [lapsed, expired]) {
          expect(await store.claim(claimInput(ref))).toMatchObject({ outcome: "acquired", tookOver: true });
        }
        expect(await chunkRows()).toBe(0);

        const deleted = claimInput();
        await completeWithTwoChunks(deleted);
        expect(await store.delete(deleted)).toBe(true);
        expect(await chunkRows()).toBe(0);

        await completeWithTwoChunks(claimInput(), 50);
        await sleep(150);
        expect(await store.purgeExpired()).toBe(1);
        expect(await chunkRows()).toBe(0);
      } finally {
        await store.close();
      }
    });

    it("keeps a one-chunk body in the record's row, and only its own chunks reach a reader", async () => {
      const table = freshTable();
      const store = await createPostgresStore({ url, table, purgeInterval: 0 });
      try {
        const input = claimInput();
        expect((await store.claim(input)).outcome).toBe("acquired");
        expect(await store.appendChunk(input, 0, bytes("abandoned"))).toBe(true);
        expect(await store.complete(input, completion([bytes("whole")]))).toBe(true);
        const { rows } = await admin.query(
          `SELECT encode(first_chunk, 'escape') AS inline,
                  (SELECT count(*)::integer FROM "${table}_chunks") AS chunks
             FROM "${table}_records" WHERE key = $1`,
          [input.key],
        );
        // The appended chunk stays in its table, unread, until the record goes.
        expect(rows).toEqual([{ inline: "whole", chunks: 1 }]);
        const replayed = await store.claim(claimInput(input));
        if (replayed.outcome !== "completed") throw new Error("expected the completed record");
        expect(Buffer.from(replayed.record.firstChunk).toString()).toBe("whole");
        expect(Buffer.from((await store.readChunk(input, 0)) ?? []).toString()).toBe("whole");
        expect(await store.readChunk(input, 1)).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("adds first_chunk to a table of an earlier version and replays the records it holds", async () => {
      const table = freshTable();
      // The records table as versions up to 0.2 created it, with a completed record whose
      // body is in the chunks table.
      await admin.query(`
        CREATE TABLE "${table}_records" (
          scope text NOT NULL, key text NOT NULL, state text NOT NULL, fingerprint text NOT NULL,
          token text, created_at bigint NOT NULL, lease_expires_at bigint, completed_at bigint,
          expires_at bigint, status integer, headers text, body_length bigint, chunk_count integer,
          body_omitted boolean, watched boolean NOT NULL DEFAULT false, PRIMARY KEY (scope, key));
        CREATE TABLE "${table}_chunks" (
          scope text NOT NULL, key text NOT NULL, idx integer NOT NULL, data bytea NOT NULL,
          PRIMARY KEY (scope, key, idx),
          FOREIGN KEY (scope, key) REFERENCES "${table}_records" (scope, key) ON DELETE CASCADE);
        INSERT INTO "${table}_records" (scope, key, state, fingerprint, created_at, completed_at,
            expires_at, status, headers, body_length, chunk_count, body_omitted)
          VALUES ('s', 'old', 'completed', 'f', 1, 1, 9000000000000, 201, '[]', 3, 1, false);
        INSERT INTO "${table}_chunks" VALUES ('s', 'old', 0, 'old'::bytea);`);
      const store = await createPostgresStore({ url, table, purgeInterval: 0 });
      try {
        const old = { ...claimInput(), scope: "s", key: "old", fingerprint: "f" };
        const replayed = await store.claim(old);
        if (replayed.outcome !== "completed") throw new Error("expected the completed record");
        expect(Buffer.from(replayed.record.firstChunk).toString()).toBe("old");
        expect(Buffer.from((await store.readChunk(old, 0)) ?? []).toString()).toBe("old");
        const input = claimInput();
        expect((await store.claim(input)).outcome).toBe("acquired");
        expect(await store.complete(input, completion([bytes("new")]))).toBe(true);
        const { record } = (await store.claim(claimInput(input))) as { record: { firstChunk: Uint8Array } };
        expect(Buffer.from(record.firstChunk).toString()).toBe("new");
      } finally {
        await store.close();
      }
    });

    it("reads times from the database clock, not the application's", async () => {
      const store = await createPostgresStore({ pool: admin, table: freshTable(), purgeInterval: 0 });
      // An application server whose clock is a day behind the database's.
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() - 86_400_000 });
      try {
        const input = claimInput();
        const { rows } = await admin.query("SELECT floor(extract(epoch FROM now()) * 1000)::float8 AS ms");
        await store.claim(input);
        const record = await store.get(input);
        expect(record?.state).toBe("in_flight");
        expect(Math.abs((record?.createdAt ?? 0) - rows[0]?.ms)).toBeLessThan(5_000);
        expect(record?.state === "in_flight" && record.leaseExpiresAt - record.createdAt).toBe(input.leaseMs);
      } finally {
        vi.useRealTimers();
        await store.close();
      }
    });
  });

  describe("PostgresStore under concurrency", () => {
    it("gives each of 20 keys, claimed 100 times at once through 20 connections, one owner seen by all", async () => {
      const store = await createPostgresStore({
        url,
        table: freshTable(),
        maxConnections: 20,
        purgeInterval: 0,
      });
      try {
        await openConnections(store, 20);
        for (let round = 0; round < 20; round += 1) {
          const ref = claimInput();
          const results = await Promise.all(Array.from({ length: 100 }, () => store.claim(claimInput(ref))));
          const winners = results.flatMap((result) =>
            result.outcome === "acquired" ? [result.lease.token] : [],
          );
          expect(winners).toHaveLength(1);
          const seen = new Set(
            results.map((result) => (result.outcome === "in_flight" ? result.record.token : "")),
          );
          expect(seen).toEqual(new Set(["", winners[0]]));
        }
      } finally {
        await store.close();
      }
    });

    it("lets exactly one of 100 concurrent claims take over an expired record", async () => {
      const store = await createPostgresStore({
        url,
        table: freshTable(),
        maxConnections: 20,
        purgeInterval: 0,
      });
      try {
        const first = claimInput();
        await store.claim(first);
        await openConnections(store, 20);
        expect(await store.complete(first, completion([bytes("old")], 50))).toBe(true);
        await sleep(150);
        const results = await Promise.all(Array.from({ length: 100 }, () => store.claim(claimInput(first))));
        const winners = results.flatMap((result) => (result.outcome === "acquired" ? [result] : []));
        expect(winners).toHaveLength(1);
        expect(winners[0]?.tookOver).toBe(true);
        for (const result of results) {
          if (result.outcome !== "acquired")
            expect(result).toMatchObject({ record: { token: winners[0]?.lease.token } });
        }
        expect(await store.readChunk(first, 0)).toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it("answers claims racing a completion with the in-flight or the completed record, never a mix", async () => {
      const store = await createPostgresStore({
        url,
        table: freshTable(),
        maxConnections: 20,
        purgeInterval: 0,
      });
      try {
        await openConnections(store, 20);
        for (let round = 0; round < 10; round += 1) {
          const owner = claimInput();
          await store.claim(owner);
          const body = bytes(`body ${round}`);
          const [completed, ...results] = await Promise.all([
            sleep(round).then(() => store.complete(owner, completion([body]))),
            ...Array.from({ length: 50 }, () => store.claim(claimInput(owner))),
          ]);
          expect(completed).toBe(true);
          for (const result of results) {
            if (result.outcome === "in_flight") expect(result.record.token).toBe(owner.token);
            else expect(result).toMatchObject({ outcome: "completed", record: { firstChunk: body } });
          }
        }
      } finally {
        await store.close();
      }
    });

    it("answers a claim of a live key without taking its row lock", async () => {
      const table = freshTable();
      const store = await createPostgresStore({ url, table, purgeInterval: 0 });
      const holder = await admin.connect();
      try {
        const owner = claimInput();
        await store.claim(owner);
        // Another transaction holds the row lock; a claim that needed it would wait for COMMIT.
        await holder.query("BEGIN");
        await holder.query(`SELECT FROM "${table}_records" WHERE scope = $1 AND key = $2 FOR UPDATE`, [
          owner.scope,
          owner.key,
        ]);
        const claim = store.claim(claimInput(owner));
        const outcome = await Promise.race([claim.then((result) => result.outcome), sleep(5_000, "waited")]);
        expect(outcome).toBe("in_flight");
      } finally {
        await holder.query("COMMIT");
        holder.release();
        await store.close();
      }
    });

    it("claims again when the record a claim met was committed after its statement began", async () => {
      const table = freshTable();
      // A trigger that holds the slow claim after its snapshot is taken and before its insert
      // meets the key, so the other claim commits in between: the slow claim's snapshot
      // cannot show the record its insert conflicts with, and only a second statement can.
      await migrate(admin, { table });
      await admin.query(`
        CREATE FUNCTION "${table}_pause"() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.fingerprint = 'slow' THEN PERFORM pg_sleep(0.5); END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER pause BEFORE INSERT ON "${table}_records"
          FOR EACH ROW EXECUTE FUNCTION "${table}_pause"()`);
      const store = await createPostgresStore({ url, table, purgeInterval: 0 });
      try {
        const owner = claimInput();
        const slow = { ...claimInput(owner), fingerprint: "slow" };
        const [result, first] = await Promise.all([
          store.claim(slow),
          sleep(150).then(() => store.claim(owner)),
        ]);
        expect(first.outcome).toBe("acquired");
        expect(result).toMatchObject({ outcome: "in_flight", record: { token: owner.token } });
      } finally {
        await store.close();
        await admin.query(`DROP FUNCTION IF EXISTS "${table}_pause"() CASCADE`);
      }
    });

    it("creates the tables once when eight stores start using them at the same moment", async () => {
      const table = freshTable();
      const stores = await Promise.all(
        Array.from({ length: 8 }, () => createPostgresStore({ url, table, purgeInterval: 0 })),
      );
      try {
        const ref = claimInput();
        const results = await Promise.all(stores.map((store) => store.claim(claimInput(ref))));
        expect(results.filter((result) => result.outcome === "acquired")).toHaveLength(1);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
      const pool = new pg.Pool({ connectionString: url, max: 8 });
      try {
        const another = freshTable();
        await Promise.all(Array.from({ length: 8 }, () => migrate(pool, { table: another })));
        await Promise.all(Array.from({ length: 8 }, () => migrate(pool, { table: another })));
      } finally {
        await pool.end();
      }
    });

    it("keeps its objects in the schema it is given", async () => {
      const schema = `oncely_test_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const withSchema = new URL(url);
      withSchema.searchParams.set("schema", schema);
      const store = await createPostgresStore({ url: withSchema.href, purgeInterval: 0 });
      try {
        await store.claim(claimInput());
        const { rows } = await admin.query(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
          [schema],
        );
        expect(rows).toEqual([{ table_name: "oncely_chunks" }, { table_name: "oncely_records" }]);
      } finally {
        await store.close();
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
    });
  });

  describe("PostgresStore during an outage", () => {
    /** A store whose every connection passes through a loopback proxy the test can cut or stall. */
    const storeBehindProxy = async () => {
      const target = new URL(url);
      const proxy = await startProxy(target.hostname, Number(target.port || 5432));
      target.hostname = "127.0.0.1";
      target.port = String(proxy.port);
      const store = await createPostgresStore({
        url: target.href,
        table: freshTable(),
        connectTimeout: 1_000,
        queryTimeout: 1_000,
        purgeInterval: 0,
      });
      return { proxy, store };
    };

    it("fails fast while the server is unreachable and recovers when it returns", {
      timeout: 60_000,
    }, async () => {
      const { proxy, store } = await storeBehindProxy();
      try {
        const held = claimInput();
        expect((await store.claim(held)).outcome).toBe("acquired");

        await proxy.stop();
        for (const call of everyOperation(store, held)) await expectUnavailableWithin(call, 2_500);

        await proxy.start();
        expect(await store.renew(held, 60_000)).toBe(true);
        expect(await store.complete(held, completion([bytes("after the outage")]))).toBe(true);
        expect(await store.claim(claimInput(held))).toMatchObject({ outcome: "completed" });
      } finally {
        await store.close();
        await proxy.stop();
      }
    });

    it("fails fast when the server stops answering without closing connections", {
      timeout: 60_000,
    }, async () => {
      const { proxy, store } = await storeBehindProxy();
      try {
        const held = claimInput();
        expect((await store.claim(held)).outcome).toBe("acquired");
        proxy.stall();
        // The pooled connection stays open but silent: the query timeout ends the call. Then
        // a new connection gets no answer to its handshake: the connect timeout ends it.
        await expectUnavailableWithin(() => store.get(held), 2_500);
        await expectUnavailableWithin(() => store.get(held), 2_500);
        proxy.resume();
        expect((await store.get(held))?.state).toBe("in_flight");
      } finally {
        await store.close();
        await proxy.stop();
      }
    });
  });

  /**
   * The plan nodes that ran when PostgreSQL executed `text` (EXPLAIN ANALYZE, in a
   * transaction rolled back afterwards, so nothing it writes stays).
   */
  async function executedPlanNodes(text: string, values: unknown[]): Promise<PlanNode[]> {
    const client = await admin.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      );
      const nodes: PlanNode[] = [];
      const visit = (node: PlanNode) => {
        if (node["Actual Loops"] > 0) nodes.push(node);
        for (const child of node.Plans ?? []) visit(child);
      };
      const [plan] = rows[0]?.["QUERY PLAN"] ?? [];
      if (plan) visit(plan.Plan);
      return nodes;
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  }
}

/**
 * Creates the tables and opens `count` pooled connections, so that the calls of a race
 * start together instead of one after the other as connections open.
 */
async function openConnections(store: IdempotencyStore, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => store.get(claimInput())));
}

/** A pool that counts the queries sent through it. */
/** A node of a plan as `EXPLAIN (ANALYZE, FORMAT JSON)` shows it, with the fields the tests read. */
interface PlanNode {
  readonly "Node Type": string;
  readonly "Actual Loops": number;
  readonly "Index Name"?: string;
  readonly Plans?: PlanNode[];
}

function countingPool(pool: pg.Pool): {
  pool: PostgresPool;
  take(): number;
  names: (string | undefined)[];
  statements: PostgresStatement[];
} {
  let count = 0;
  const names: (string | undefined)[] = [];
  const statements: PostgresStatement[] = [];
  return {
    names,
    statements,
    pool: {
      query(text, values) {
        count += 1;
        if (typeof text !== "string") {
          names.push(text.name);
          statements.push(text);
        }
        return values === undefined ? pool.query(text as string) : pool.query(text as string, values);
      },
    },
    take() {
      const taken = count;
      count = 0;
      return taken;
    },
  };
}

function claimInput(ref?: { scope: string; key: string }): ClaimInput {
  return {
    scope: ref?.scope ?? `scope-${randomUUID()}`,
    key: ref?.key ?? `key-${randomUUID()}`,
    fingerprint: "fp",
    token: randomUUID(),
    leaseMs: 60_000,
  };
}

function completion(chunks: Uint8Array[], ttlMs = 60_000) {
  const response: StoredResponse = {
    status: 200,
    headers: [["content-type", "text/plain"]],
    bodyLength: chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0),
    chunkCount: chunks.length,
    bodyOmitted: false,
  };
  return { response, finalChunk: chunks.at(-1) ?? new Uint8Array(0), ttlMs };
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function everyOperation(store: IdempotencyStore, lease: Lease): (() => unknown)[] {
  return [
    () => store.claim(claimInput()),
    () => store.renew(lease, 60_000),
    () => store.appendChunk(lease, 0, bytes("x")),
    () => store.complete(lease, completion([bytes("x")])),
    () => store.get(lease),
    () => store.readChunk(lease, 0),
    () => store.purgeExpired(),
    () => store.release(lease),
  ];
}

async function expectUnavailableWithin(call: () => unknown, ms: number): Promise<void> {
  const started = performance.now();
  const error = await Promise.resolve(call()).then(
    () => new Error("the call succeeded during the outage"),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(StoreUnavailableError);
  expect((error as Error).cause).toBeDefined();
  expect(performance.now() - started).toBeLessThan(ms);
}

/** A TCP proxy on loopback in front of the server, which the test can cut, silence and restore. */
interface Proxy {
  readonly port: number;
  /** Stops listening and destroys every connection, as a crashed server would. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Keeps connections open but forwards nothing, as a hung server or a dropped route would. */
  stall(): void;
  resume(): void;
}

async function startProxy(host: string, port: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const forward = (from: Socket, to: Socket) =>
    from.on("data", (data: Buffer) => {
      if (!stalled) to.write(data);
    });
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(port, host);
    track(client);
    track(upstream);
    forward(client, upstream);
    forward(upstream, client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP port");
  return {
    port: address.port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
    async start() {
      server.listen(address.port, "127.0.0.1");
      await once(server, "listening");
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
    },
  };
}
