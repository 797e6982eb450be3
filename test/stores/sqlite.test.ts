import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  InvalidOptionError,
  InvalidStoreUrlError,
  StoreClosedError,
  StoreUnavailableError,
} from "../../src/core/errors.js";
import type { IdempotencyStore, Lease } from "../../src/store.js";
import { createStore } from "../../src/stores/create-store.js";
import { createSqliteStore, sqliteStoreFromUrl } from "../../src/stores/sqlite/index.js";
import { storeConformanceSuite } from "../../src/testing/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "oncely-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const freshPath = () => join(dir, `${randomUUID()}.db`);
const files = new WeakMap<IdempotencyStore, string>();

storeConformanceSuite({
  name: "SqliteStore",
  async create() {
    const path = freshPath();
    const store = await createSqliteStore({ path });
    files.set(store, path);
    return store;
  },
  // Through a second connection, as a foreign writer would: headers that are not JSON on
  // a completed record, a state nobody knows on an in-flight one.
  async corrupt(store, { scope, key }) {
    const path = files.get(store);
    if (path === undefined) throw new Error("corrupt() got a store that create() did not make");
    const db = new Database(path);
    try {
      db.prepare(
        `UPDATE oncely_records
            SET headers = '[["content-type"', state = CASE state WHEN 'completed' THEN state ELSE 'paused' END
          WHERE scope = ? AND key = ?`,
      ).run(scope, key);
    } finally {
      db.close();
    }
  },
  describe,
  it,
});

// `npm run mutate` leaves these out: a mutant's code runs in the child processes, where
// Stryker cannot tell which test reached it, and eight processes per mutant overload the run.
describe.skipIf(process.env.ONCELY_MUTATING === "1")("SqliteStore across processes", () => {
  it("lets exactly one of 100 claims from four processes on one file acquire a key", async () => {
    const path = freshPath();
    const key = randomUUID();
    const workers = Array.from({ length: 4 }, () => startWorker("sqlite-claim-worker.ts", [path, key, "25"]));
    // Every worker has opened the file before any of them claims, so that the claims collide.
    for (const worker of workers) expect(await worker.nextLine()).toBe("ready");
    for (const worker of workers) worker.child.stdin?.write("go\n");
    const reports = await Promise.all(workers.map((worker) => worker.nextLine()));
    const acquired = reports.map((report) => (JSON.parse(report) as { acquired: number }).acquired);
    expect(acquired.reduce((sum, count) => sum + count, 0)).toBe(1);
  });

  it("lets eight processes open a brand-new file at the same moment", async () => {
    for (let round = 0; round < 3; round++) {
      const path = freshPath();
      const workers = Array.from({ length: 8 }, () => startWorker("sqlite-open-worker.ts", [path]));
      for (const worker of workers) expect(await worker.nextLine()).toBe("waiting");
      for (const worker of workers) worker.child.stdin?.write("go\n");
      const outcomes = await Promise.all(workers.map((worker) => worker.nextLine()));
      expect(outcomes).toEqual(Array(8).fill("opened"));
    }
  }, 60_000);

  it("keeps a completed record when its process is killed with SIGKILL", async () => {
    const path = freshPath();
    const key = randomUUID();
    const { child, nextLine } = startWorker("sqlite-kill-worker.ts", [path, key]);
    const line = await nextLine();
    expect(line).toMatch(/^done /);
    const hashes = JSON.parse(line.slice("done ".length)) as string[];
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    // The record never left the write-ahead log, which this open has to recover.
    expect(existsSync(`${path}-wal`)).toBe(true);

    const store = await createSqliteStore({ path });
    try {
      const ref = { scope: "crash", key };
      const record = await store.get(ref);
      expect(record?.state).toBe("completed");
      if (record?.state !== "completed") return;
      expect(record.response.status).toBe(201);
      expect(record.response.chunkCount).toBe(3);
      const chunks = await Promise.all([0, 1, 2].map((index) => store.readChunk(ref, index)));
      expect(chunks.map((chunk) => chunk && sha256(chunk))).toEqual(hashes);
      expect(sha256(record.firstChunk)).toBe(hashes[0]);
    } finally {
      await store.close();
    }
  });
});

describe("SqliteStore storage", () => {
  it("rejects claims and completions once closed with StoreClosedError, not a driver error", async () => {
    const store = await createSqliteStore({ path: freshPath() });
    const claim = { scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 60_000 };
    const result = await store.claim(claim);
    if (result.outcome !== "acquired") throw new Error(`claim returned ${result.outcome}`);
    await store.close();
    await expect(store.claim({ ...claim, key: "other" })).rejects.toBeInstanceOf(StoreClosedError);
    const response = { status: 200, headers: [], bodyLength: 0, chunkCount: 0, bodyOmitted: false };
    await expect(
      store.complete(result.lease, { response, finalChunk: new Uint8Array(0), ttlMs: 60_000 }),
    ).rejects.toBeInstanceOf(StoreClosedError);
  });

  it("leaves no chunks behind records that were released, deleted or purged", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path });
    try {
      const body = new Uint8Array([1, 2, 3]);
      const response = { status: 200, headers: [], bodyLength: 6, chunkCount: 2, bodyOmitted: false };
      const claim = async (key: string) => {
        const result = await store.claim({
          scope: "s",
          key,
          fingerprint: "f",
          token: randomUUID(),
          leaseMs: 60_000,
        });
        if (result.outcome !== "acquired") throw new Error(`claim returned ${result.outcome}`);
        await store.appendChunk(result.lease, 0, body);
        return result.lease;
      };
      await store.release(await claim("released"));
      await store.complete(await claim("deleted"), { response, finalChunk: body, ttlMs: 60_000 });
      await store.delete({ scope: "s", key: "deleted" });
      await store.complete(await claim("purged"), { response, finalChunk: body, ttlMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.purgeExpired()).toBe(1);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM oncely_chunks").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});

describe("SqliteStore writes", () => {
  const claimOf = (key: string) => ({
    scope: "s",
    key,
    fingerprint: "fp",
    token: randomUUID(),
    leaseMs: 60_000,
  });
  const done = {
    response: { status: 201, headers: [], bodyLength: 1, chunkCount: 1, bodyOmitted: false },
    finalChunk: new Uint8Array([7]),
    ttlMs: 60_000,
  };

  it("commits the claims and completions of one turn in one transaction, and replays without one", async () => {
    const statements: string[] = [];
    const database = new Database(freshPath(), { verbose: (sql) => statements.push(String(sql).trim()) });
    database.pragma("journal_mode = WAL");
    const store = await createSqliteStore({ database, purgeInterval: 0 });
    const begins = () => statements.filter((sql) => sql.startsWith("BEGIN"));
    try {
      statements.length = 0;
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      const claims = await Promise.all(keys.map((key) => store.claim(claimOf(key))));
      expect(begins()).toEqual(["BEGIN IMMEDIATE"]);
      statements.length = 0;
      const leases = claims.map((claim) => (claim.outcome === "acquired" ? claim.lease : undefined));
      expect(leases.every((lease) => lease !== undefined)).toBe(true);
      await Promise.all(leases.map((lease) => store.complete(lease as Lease, done)));
      expect(begins()).toEqual(["BEGIN IMMEDIATE"]);
      statements.length = 0;
      const replays = await Promise.all(keys.map((key) => store.claim(claimOf(key))));
      expect(replays.every((replay) => replay.outcome === "completed")).toBe(true);
      expect(statements.filter((sql) => !sql.startsWith("SELECT"))).toEqual([]);
      expect(statements).toHaveLength(keys.length);
    } finally {
      await store.close();
      database.close();
    }
  });

  it("fails one operation of a batch alone, and commits the others", async () => {
    const database = new Database(freshPath());
    const store = await createSqliteStore({ database, purgeInterval: 0 });
    try {
      const held = await store.claim(claimOf("held"));
      if (held.outcome !== "acquired") throw new Error("expected to acquire");
      // A lapsed record whose headers are damaged: the claim that would take it over
      // reads it under the lock and fails with CorruptRecordError.
      database
        .prepare(
          "UPDATE oncely_records SET state = 'completed', expires_at = 0, headers = 'x' WHERE key = 'held'",
        )
        .run();
      const [broken, fine, completed] = await Promise.allSettled([
        store.claim(claimOf("held")),
        store.claim(claimOf("fresh")),
        store.complete(held.lease, done),
      ]);
      expect(broken.status).toBe("rejected");
      expect(fine).toMatchObject({ status: "fulfilled", value: { outcome: "acquired" } });
      expect(completed).toMatchObject({ status: "fulfilled", value: false });
      expect(await store.get({ scope: "s", key: "fresh" })).toMatchObject({ state: "in_flight" });
    } finally {
      await store.close();
      database.close();
    }
  });
});

describe("createSqliteStore", () => {
  it("opens the file with the synchronous setting asked for, NORMAL unless told, by URL too", async () => {
    expect(await synchronousOf(() => createSqliteStore({ path: freshPath() }))).toBe(1);
    expect(await synchronousOf(() => createStore(`sqlite:${freshPath()}`))).toBe(1);
    const levels = { off: 0, normal: 1, full: 2 } as const;
    for (const [synchronous, level] of Object.entries(levels) as [keyof typeof levels, number][]) {
      expect(await synchronousOf(() => createSqliteStore({ path: freshPath(), synchronous }))).toBe(level);
    }
    await expect(
      createSqliteStore({ path: freshPath(), synchronous: "sometimes" as "off" }),
    ).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it("creates the missing directories of the file", async () => {
    const path = join(dir, randomUUID(), "a", "b", "oncely.db");
    const store = await createSqliteStore({ path });
    await store.close();
    expect(existsSync(path)).toBe(true);
  });

  it("leaves a connection passed in open", async () => {
    const database = new Database(freshPath());
    try {
      const store = await createSqliteStore({ database });
      const claim = await store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 1_000 });
      expect(claim.outcome).toBe("acquired");
      await store.close();
      expect(database.open).toBe(true);
    } finally {
      database.close();
    }
  });

  it("turns a write lock held too long into StoreUnavailableError", async () => {
    const path = freshPath();
    const store = await createSqliteStore({ path, busyTimeout: 50 });
    const blocker = new Database(path);
    try {
      blocker.exec("BEGIN IMMEDIATE");
      const claim = store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 1_000 });
      await expect(claim).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(claim).rejects.toHaveProperty("cause.code", "SQLITE_BUSY");
    } finally {
      blocker.close();
      await store.close();
    }
  });

  it("reports a missing better-sqlite3 as MissingDependencyError", async () => {
    const report = await startWorker("without-package.ts", [
      "better-sqlite3",
      "sqlite",
      freshPath(),
    ]).nextLine();
    expect(JSON.parse(report)).toMatchObject({
      name: "MissingDependencyError",
      code: "ONCELY_MISSING_DEPENDENCY",
      message: expect.stringContaining("npm install better-sqlite3"),
    });
  });
});

describe("sqliteStoreFromUrl", () => {
  it.each([
    ["sqlite:./relative/path.db", (path: string) => `sqlite:./${relative(process.cwd(), path)}`],
    ["sqlite:/absolute/path.db", (path: string) => `sqlite:${path}`],
    ["sqlite:///absolute/path.db", (path: string) => `sqlite://${path}`],
  ])("opens %s", async (_form, toUrl) => {
    const path = freshPath();
    const store = await sqliteStoreFromUrl(toUrl(path));
    await store.claim({ scope: "s", key: "k", fingerprint: "f", token: "t", leaseMs: 60_000 });
    await store.close();
    const reopened = await createSqliteStore({ path });
    try {
      expect((await reopened.get({ scope: "s", key: "k" }))?.state).toBe("in_flight");
    } finally {
      await reopened.close();
    }
  });

  it.each([
    "sqlite:",
    "sqlite://",
    "sqlite://host/oncely.db",
    "sqlite://admin:hunter2@host/oncely.db",
    "sqlite:./oncely.db?mode=ro",
    "memory:",
  ])("rejects %j", async (url) => {
    const error = await sqliteStoreFromUrl(url).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(InvalidStoreUrlError);
    expect((error as Error).message).not.toContain("hunter2");
  });
});

interface Worker {
  readonly child: ChildProcess;
  /** The next line the child prints; fails if it exits first. */
  nextLine(): Promise<string>;
}

function startWorker(fixture: string, args: readonly string[]): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", join("test/fixtures", fixture), ...args], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as Readable })[Symbol.asyncIterator]();
  return {
    child,
    async nextLine() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`${fixture} exited with ${child.exitCode ?? child.signalCode}: ${stderr}`);
      return value;
    },
  };
}

/**
 * PRAGMA synchronous (0 off, 1 normal, 2 full) on the connection a store opens for itself.
 * The setting belongs to a connection, not to the file, and the store shows its connection
 * nowhere: it is caught as the one the store prepares its statements on.
 */
async function synchronousOf(open: () => Promise<IdempotencyStore>): Promise<unknown> {
  const prepare = vi.spyOn(Database.prototype, "prepare");
  let store: IdempotencyStore;
  let connections: unknown[];
  try {
    store = await open();
    connections = [...new Set(prepare.mock.contexts)];
  } finally {
    prepare.mockRestore();
  }
  try {
    expect(connections).toHaveLength(1);
    return (connections[0] as Database.Database).pragma("synchronous", { simple: true });
  } finally {
    await store.close();
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
