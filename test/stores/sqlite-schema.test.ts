// The SQLite store's schema across versions: a file made before `first_chunk` existed is
// migrated on open and still replays, and a body of one chunk is kept in its record's row.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import type { Lease } from "../../src/store.js";
import { createSqliteStore } from "../../src/stores/sqlite/index.js";
import { addMissingColumns } from "../../src/stores/sqlite/schema.js";
import { claimInput } from "../../src/testing/conformance-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "oncely-sqlite-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const freshPath = () => join(dir, `${randomUUID()}.db`);

/** The schema as the store created it before `first_chunk`, word for word. */
const SCHEMA_WITHOUT_FIRST_CHUNK = `
CREATE TABLE IF NOT EXISTS oncely_records (
  scope            TEXT    NOT NULL,
  key              TEXT    NOT NULL,
  state            TEXT    NOT NULL,
  fingerprint      TEXT    NOT NULL,
  token            TEXT,
  created_at       INTEGER NOT NULL,
  lease_expires_at INTEGER,
  completed_at     INTEGER,
  expires_at       INTEGER,
  status           INTEGER,
  headers          TEXT,
  body_length      INTEGER,
  chunk_count      INTEGER,
  body_omitted     INTEGER,
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS oncely_records_lapsed_leases
  ON oncely_records (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX IF NOT EXISTS oncely_records_expired_completions
  ON oncely_records (expires_at) WHERE state = 'completed';
CREATE TABLE IF NOT EXISTS oncely_chunks (
  scope TEXT    NOT NULL,
  key   TEXT    NOT NULL,
  idx   INTEGER NOT NULL,
  data  BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS oncely_chunks_by_record
  ON oncely_chunks (scope, key, idx);
`;

/** A file in the old schema holding a completed record whose one chunk is in oncely_chunks, as the old store wrote it. */
function oldFile(key: string, body: Buffer): string {
  const path = freshPath();
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.exec(SCHEMA_WITHOUT_FIRST_CHUNK);
    const now = Date.now();
    db.prepare(
      `INSERT INTO oncely_records (scope, key, state, fingerprint, created_at, completed_at, expires_at,
                                   status, headers, body_length, chunk_count, body_omitted)
       VALUES ('s', ?, 'completed', 'fp', ?, ?, ?, 201, '[["content-type","text/plain"]]', ?, 1, 0)`,
    ).run(key, now, now, now + 60_000, body.byteLength);
    db.prepare("INSERT INTO oncely_chunks (scope, key, idx, data) VALUES ('s', ?, 0, ?)").run(key, body);
  } finally {
    db.close();
  }
  return path;
}

function columnsOf(db: Database.Database): string[] {
  return (db.pragma("table_info(oncely_records)") as Array<{ name: string }>).map(({ name }) => name);
}

const claimOf = (key: string) => claimInput({ scope: "s", key }, { fingerprint: "fp" });
const oneChunk = (body: Uint8Array) => ({
  response: { status: 200, headers: [], bodyLength: body.byteLength, chunkCount: 1, bodyOmitted: false },
  finalChunk: body,
  ttlMs: 60_000,
});

/** How many rows the file's chunks table holds, read past the store. */
function chunkRows(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT count(*) FROM oncely_chunks").pluck().get();
  } finally {
    db.close();
  }
}

describe("SqliteStore schema", () => {
  it("migrates a file of the schema before first_chunk on open, and replays its records", async () => {
    const body = Buffer.from("made by the old store");
    const path = oldFile("old", body);
    const store = await createSqliteStore({ path, purgeInterval: 0 });
    try {
      const replay = await store.claim(claimOf("old"));
      expect(replay.outcome).toBe("completed");
      if (replay.outcome !== "completed") return;
      expect(replay.record.response).toEqual({
        status: 201,
        headers: [["content-type", "text/plain"]],
        bodyLength: body.byteLength,
        chunkCount: 1,
        bodyOmitted: false,
      });
      expect(Buffer.from(replay.record.firstChunk)).toEqual(body);
      expect(Buffer.from((await store.readChunk({ scope: "s", key: "old" }, 0)) ?? [])).toEqual(body);
      expect(await store.readChunk({ scope: "s", key: "old" }, 1)).toBeUndefined();
      expect((await store.list()).records.map(({ key }) => key)).toEqual(["old"]);

      // The migrated file takes new records the new way, next to the old one.
      const fresh = await store.claim(claimOf("new"));
      if (fresh.outcome !== "acquired") throw new Error(`claim returned ${fresh.outcome}`);
      expect(await store.complete(fresh.lease, oneChunk(Buffer.from("new")))).toBe(true);
      expect(await store.delete({ scope: "s", key: "old" })).toBe(true);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(columnsOf(db).at(-1)).toBe("first_chunk");
      expect(db.prepare("SELECT count(*) AS n FROM oncely_chunks").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    // Opening again finds the column and changes nothing.
    await (await createSqliteStore({ path, purgeInterval: 0 })).close();
  });

  it("forgives the ALTER of an opener that another opener beat to the column", () => {
    const path = oldFile("old", Buffer.from("x"));
    const first = new Database(path);
    const second = new Database(path);
    try {
      // The second opener looks, finds no column, and the first adds it before the second's ALTER.
      const pragma = second.pragma.bind(second);
      let raced = false;
      second.pragma = ((source: string, options?: Database.PragmaOptions) => {
        const result = pragma(source, options);
        if (!raced) {
          raced = true;
          addMissingColumns(first);
        }
        return result;
      }) as typeof second.pragma;
      expect(() => addMissingColumns(second)).not.toThrow();
      expect(raced).toBe(true);
      expect(columnsOf(first).filter((name) => name === "first_chunk")).toHaveLength(1);
    } finally {
      first.close();
      second.close();
    }
  });

  it("keeps a body of one chunk in the record's row, with no row in oncely_chunks", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, purgeInterval: 0 });
    const body = Buffer.from("one chunk");
    try {
      const claimed = await store.claim(claimOf("k"));
      if (claimed.outcome !== "acquired") throw new Error(`claim returned ${claimed.outcome}`);
      expect(await store.complete(claimed.lease, oneChunk(body))).toBe(true);
      const replay = await store.claim(claimOf("k"));
      expect(replay.outcome === "completed" && Buffer.from(replay.record.firstChunk)).toEqual(body);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM oncely_chunks").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT first_chunk FROM oncely_records WHERE key = 'k'").pluck().get()).toEqual(
        body,
      );
    } finally {
      db.close();
    }
  });

  it("hides chunks appended before a completion of one chunk, and drops them with the record", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, purgeInterval: 0 });
    const ref = { scope: "s", key: "k" };
    try {
      const claimed = await store.claim(claimOf("k"));
      if (claimed.outcome !== "acquired") throw new Error(`claim returned ${claimed.outcome}`);
      const lease: Lease = claimed.lease;
      for (const index of [0, 1]) {
        expect(await store.appendChunk(lease, index, Buffer.from(`abandoned ${index}`))).toBe(true);
      }
      expect(await store.complete(lease, oneChunk(Buffer.from("final")))).toBe(true);
      expect(Buffer.from((await store.readChunk(ref, 0)) ?? [])).toEqual(Buffer.from("final"));
      expect(await store.readChunk(ref, 1)).toBeUndefined();
      expect(chunkRows(path)).toBe(2);
      expect(await store.delete(ref)).toBe(true);
      expect(chunkRows(path)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it("keeps no chunk of a body omitted for its size, nor of a record taken over", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, purgeInterval: 0 });
    const appendTwo = async (lease: Lease) => {
      for (const index of [0, 1]) {
        expect(await store.appendChunk(lease, index, Buffer.from(`secret ${index}`))).toBe(true);
      }
    };
    try {
      const omitted = await store.claim(claimOf("omitted"));
      if (omitted.outcome !== "acquired") throw new Error(`claim returned ${omitted.outcome}`);
      await appendTwo(omitted.lease);
      const response = { status: 200, headers: [], bodyLength: 0, chunkCount: 0, bodyOmitted: true };
      expect(
        await store.complete(omitted.lease, { response, finalChunk: new Uint8Array(0), ttlMs: 60_000 }),
      ).toBe(true);
      expect(chunkRows(path)).toBe(0);

      const lapsed = await store.claim({ ...claimOf("lapsed"), leaseMs: 1 });
      if (lapsed.outcome !== "acquired") throw new Error(`claim returned ${lapsed.outcome}`);
      await appendTwo(lapsed.lease);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.claim(claimOf("lapsed"))).toMatchObject({ outcome: "acquired", tookOver: true });
      expect(chunkRows(path)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
