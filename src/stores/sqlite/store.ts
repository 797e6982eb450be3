/**
 * The SQLite store itself. Claims run in `BEGIN IMMEDIATE` transactions; every write to
 * an in-flight record is fenced by its owner token (see `statements.ts`).
 *
 * @module
 */

import type BetterSqlite3 from "better-sqlite3";
import { InvalidOptionError, StoreClosedError } from "../../core/errors.js";
import type {
  ClaimInput,
  ClaimResult,
  CompletionInput,
  IdempotencyRecord,
  InFlightRecord,
  InspectableStore,
  Lease,
  RecordPage,
  RecordRef,
} from "../../store.js";
import { ChangeWaiters, waiterId } from "../change-waiters.js";
import { checkPageLimit, DEFAULT_PAGE_LIMIT } from "../paging.js";
import { purgeIntervalOf } from "../purge-interval.js";
import { decodeRecordRow, encodeHeaders } from "../record-codec.js";
import { unlessSqliteFails } from "./connection.js";
import { addMissingColumns, CREATE_SCHEMA } from "./schema.js";
import { prepareStatements, type Statements } from "./statements.js";
import { WriteBatch } from "./write-batch.js";

/** Options of `createSqliteStore` and {@link SqliteStore} that apply however the database is given. */
export interface SqliteStoreCommonOptions {
  /**
   * How often expired records and their chunks are deleted in the background. Expiry is
   * also checked on every access, so this only bounds the file's growth; `0` turns the
   * timer off. The timer is unref'd: it never keeps the process alive.
   * @default 60_000
   */
  purgeInterval?: number;
  /** @deprecated use `purgeInterval` (same value, in milliseconds) */
  purgeIntervalMs?: number;
}

/** Background purges delete this many records per transaction, so other writers never wait long. */
const PURGE_BATCH = 500;
/**
 * The longest a waiter sleeps without a look at the database: writes of other processes
 * sharing the file wake nobody here. The ceiling of the engine's own polling, so that a
 * change made by another process is seen as soon as before.
 */
const OTHER_PROCESSES_POLL_MS = 250;

/**
 * An {@link InspectableStore} in a SQLite database. Claims run in `BEGIN IMMEDIATE`
 * transactions, which take the database's write lock before reading, so that two
 * processes can never both see a key as free. Every write to an in-flight record is
 * fenced by its owner token.
 */
export class SqliteStore implements InspectableStore {
  readonly #db: BetterSqlite3.Database;
  readonly #ownsDatabase: boolean;
  readonly #sql: Statements;
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Duplicates waiting for an in-flight record, woken by this process's writes to it. */
  readonly #waiters = new ChangeWaiters();
  readonly #writes: WriteBatch;
  readonly #releaseLocked: (lease: Lease) => boolean;
  readonly #deleteLocked: (ref: RecordRef) => boolean;
  readonly #purgeLocked: (limit: number) => number;

  /**
   * Wraps an open connection and creates the tables it lacks. `createSqliteStore` is
   * usually simpler: it also opens and tunes the connection.
   * @param database an open better-sqlite3 connection
   * @param [options.purgeInterval=60000] how often expired records are swept; `0` turns the sweep off
   * @param [options.ownsDatabase=false] whether `close()` closes `database` too
   * @throws {InvalidOptionError} for an invalid interval, or one given under both its names
   */
  constructor(
    database: BetterSqlite3.Database,
    options: SqliteStoreCommonOptions & { readonly ownsDatabase?: boolean | undefined } = {},
  ) {
    const purgeInterval = purgeIntervalOf(options);
    const { ownsDatabase = false } = options;
    this.#db = database;
    this.#ownsDatabase = ownsDatabase;
    this.#sql = unlessSqliteFails(() => {
      database.exec(CREATE_SCHEMA);
      addMissingColumns(database);
      return prepareStatements(database);
    });
    // Writers start with BEGIN IMMEDIATE: a deferred transaction that reads and then
    // writes can fail with SQLITE_BUSY at once, without waiting for the busy timeout.
    this.#writes = new WriteBatch(database);
    this.#releaseLocked = database.transaction((lease: Lease) => this.#releaseIn(lease)).immediate;
    this.#deleteLocked = database.transaction((ref: RecordRef) => this.#deleteIn(ref)).immediate;
    this.#purgeLocked = database.transaction((limit: number) => this.#purgeIn(limit)).immediate;
    if (purgeInterval > 0) {
      this.#timer = setInterval(() => this.#purgeInBackground(), purgeInterval);
      this.#timer.unref();
    }
  }

  /**
   * A live record is answered from one read, without the write lock: a replay or a
   * duplicate in flight writes nothing. Otherwise the claim joins the write batch (see
   * `WriteBatch`), where it looks again under the lock.
   */
  claim(input: ClaimInput): Promise<ClaimResult> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    let live: ClaimResult | undefined;
    try {
      live = unlessSqliteFails(() => liveOutcome(this.#read(input), Date.now()));
    } catch (error) {
      return Promise.reject(error);
    }
    if (live) return Promise.resolve(live);
    return this.#writes.run(() => unlessSqliteFails(() => this.#claimIn(input)));
  }

  renew(lease: Lease, leaseMs: number): Promise<boolean> {
    return this.#run(
      () => this.#sql.renewLease.run({ ...owner(lease), leaseExpiresAt: Date.now() + leaseMs }).changes === 1,
    );
  }

  release(lease: Lease): Promise<boolean> {
    return this.#run(() => this.#releaseLocked(lease));
  }

  appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    return this.#run(() => this.#sql.putOwnedChunk.run({ ...owner(lease), idx: index, data }).changes === 1);
  }

  /** Joins the write batch (see `WriteBatch`). */
  complete(lease: Lease, input: CompletionInput): Promise<boolean> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    return this.#writes.run(() => unlessSqliteFails(() => this.#completeIn(lease, input)));
  }

  get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    return this.#run(() => {
      const record = this.#read(ref);
      return record && isLive(record, Date.now()) ? record : undefined;
    });
  }

  readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    return this.#run(() => {
      const data = this.#sql.selectLiveChunk.get({
        scope: ref.scope,
        key: ref.key,
        idx: index,
        now: Date.now(),
      });
      return data ? plainBytes(data) : undefined;
    });
  }

  purgeExpired(limit = Number.POSITIVE_INFINITY): Promise<number> {
    // SQLite reads a negative LIMIT as "no limit".
    return this.#run(() => this.#purgeLocked(Number.isFinite(limit) ? Math.max(0, Math.trunc(limit)) : -1));
  }

  /**
   * Live records a page at a time, in (scope, key) order; the cursor names the last
   * record of the page, so records added or deleted between pages shift nothing.
   * @param [options.limit=100] the most records on one page
   */
  list({
    limit = DEFAULT_PAGE_LIMIT,
    cursor,
  }: {
    readonly limit?: number;
    readonly cursor?: string;
  } = {}): Promise<RecordPage> {
    return this.#run(() => {
      checkPageLimit(limit);
      const after = cursor === undefined ? { afterScope: null, afterKey: null } : decodeCursor(cursor);
      // One row more than the page shows whether another page follows.
      const rows = this.#sql.listLiveRecords.all({ ...after, now: Date.now(), limit: limit + 1 });
      const page = rows.slice(0, limit);
      const records = page.map(({ scope, key, first_chunk, ...row }) =>
        decodeRecordRow({ scope, key }, row, first_chunk ? plainBytes(first_chunk) : undefined),
      );
      const last = page.at(-1);
      return rows.length > limit && last ? { records, cursor: encodeCursor(last) } : { records };
    });
  }

  delete(ref: RecordRef): Promise<boolean> {
    return this.#run(() => this.#deleteLocked(ref));
  }

  /**
   * Resolves as soon as this process completes, releases or deletes `record`, or when it
   * is no longer that in-flight record already; else after `timeoutMs`, or after a short
   * poll interval, because writes of other processes sharing the file wake nobody here.
   */
  waitForChange(record: InFlightRecord, timeoutMs: number): Promise<void> {
    let current: IdempotencyRecord | undefined;
    try {
      current = this.#runNow(() => this.#read(record));
    } catch {
      // Never rejects (the contract): the caller's next claim reports the failure.
      return Promise.resolve();
    }
    if (current?.state !== "in_flight" || current.token !== record.token) return Promise.resolve();
    return this.#waiters.wait(waiterId(record), record.token, Math.min(timeoutMs, OTHER_PROCESSES_POLL_MS))
      .done;
  }

  /** How many duplicates wait in {@link waitForChange} now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Stops the purge timer and closes the connection if the store opened it. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.wakeAll();
    clearInterval(this.#timer);
    // Claims and completions already accepted are committed, not dropped.
    this.#writes.flush();
    if (this.#ownsDatabase) this.#db.close();
  }

  /** Runs a synchronous operation so that whatever it throws becomes a rejection. */
  async #run<T>(operation: () => T): Promise<T> {
    return this.#runNow(operation);
  }

  /** Runs a synchronous operation, with SQLite's failures thrown as store errors. */
  #runNow<T>(operation: () => T): T {
    if (this.#closed) throw new StoreClosedError();
    return unlessSqliteFails(operation);
  }

  #claimIn(input: ClaimInput): ClaimResult {
    const now = Date.now();
    const existing = this.#read(input);
    const live = liveOutcome(existing, now);
    if (live) return live;
    const { scope, key, fingerprint, token } = input;
    if (existing) this.#sql.deleteChunks.run({ scope, key, from: 0 });
    this.#sql.replaceWithInFlight.run({
      scope,
      key,
      fingerprint,
      token,
      now,
      leaseExpiresAt: now + input.leaseMs,
    });
    return { outcome: "acquired", lease: { scope, key, token }, tookOver: existing !== undefined };
  }

  #releaseIn(lease: Lease): boolean {
    if (this.#sql.deleteOwnedRecord.run(owner(lease)).changes === 0) return false;
    this.#sql.deleteChunks.run({ scope: lease.scope, key: lease.key, from: 0 });
    this.#wake(lease);
    return true;
  }

  #deleteIn({ scope, key }: RecordRef): boolean {
    if (this.#sql.deleteRecord.run({ scope, key }).changes === 0) return false;
    this.#sql.deleteChunks.run({ scope, key, from: 0 });
    this.#wake({ scope, key });
    return true;
  }

  /**
   * A body of one chunk is completed by the UPDATE alone, which puts it into the row,
   * without a statement on `oncely_chunks`: the engine appends only the chunks before the
   * last, so a one-chunk body has none there. Should a lease have appended some anyway,
   * the readers never return a chunk at or above the record's count, nor chunk 0 of a
   * record that holds its own (see `statements.ts`), and they go with the record. Any
   * other body deletes the chunks at or above its count: those of a body omitted for its
   * size were appended before it outgrew the cap, and must not stay in the file.
   */
  #completeIn(lease: Lease, { response, finalChunk, ttlMs, fingerprint }: CompletionInput): boolean {
    const now = Date.now();
    const { chunkCount } = response;
    const completed = this.#sql.completeOwnedRecord.run({
      ...owner(lease),
      now,
      expiresAt: now + ttlMs,
      status: response.status,
      headers: encodeHeaders(response.headers),
      bodyLength: response.bodyLength,
      chunkCount,
      bodyOmitted: response.bodyOmitted ? 1 : 0,
      firstChunk: chunkCount === 1 ? finalChunk : null,
      fingerprint: fingerprint ?? null,
    });
    if (completed.changes === 0) return false;
    const ref = { scope: lease.scope, key: lease.key };
    if (chunkCount > 1) this.#sql.putChunk.run({ ...ref, idx: chunkCount - 1, data: finalChunk });
    if (chunkCount !== 1) this.#sql.deleteChunks.run({ ...ref, from: chunkCount });
    this.#wake(ref);
    return true;
  }

  /**
   * Wakes the waiters of `ref`. Called inside the write's transaction: they resume in a
   * later microtask, after this synchronous transaction has committed (or, rarely, rolled
   * back, which makes a harmless spurious wake-up).
   */
  #wake(ref: RecordRef): void {
    this.#waiters.wake(waiterId(ref));
  }

  #purgeIn(limit: number): number {
    const deleted = this.#sql.purgeRecords.all({ now: Date.now(), limit });
    for (const { scope, key } of deleted) this.#sql.deleteChunks.run({ scope, key, from: 0 });
    return deleted.length;
  }

  /** The stored record, live or not, with chunk 0 of a completed one; undefined when there is no row. */
  #read({ scope, key }: RecordRef): IdempotencyRecord | undefined {
    const row = this.#sql.selectRecord.get({ scope, key });
    if (!row) return undefined;
    const firstChunk = row.first_chunk;
    return decodeRecordRow({ scope, key }, row, firstChunk ? plainBytes(firstChunk) : undefined);
  }

  #purgeInBackground(): void {
    try {
      // A full batch means more may be waiting.
      let deleted: number;
      do {
        deleted = this.#purgeLocked(PURGE_BATCH);
      } while (deleted === PURGE_BATCH && !this.#closed);
    } catch {
      // Nobody awaits the timer, so there is nobody to tell: the next run tries again,
      // and expiry is checked on every access anyway.
    }
  }
}

/** The owner-fencing parameters of a lease. */
function owner({ scope, key, token }: Lease): { scope: string; key: string; token: string } {
  return { scope, key, token };
}

/** The list cursor: the last record of a page, as base64url JSON so it travels in URLs and shells. */
function encodeCursor({ scope, key }: RecordRef): string {
  return Buffer.from(JSON.stringify([scope, key])).toString("base64url");
}

function decodeCursor(cursor: string): { afterScope: string; afterKey: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {
    parsed = undefined;
  }
  const [afterScope, afterKey]: unknown[] = Array.isArray(parsed) && parsed.length === 2 ? parsed : [];
  if (typeof afterScope !== "string" || typeof afterKey !== "string") {
    throw new InvalidOptionError("cursor was not returned by this store's list()");
  }
  return { afterScope, afterKey };
}

/** A plain Uint8Array over better-sqlite3's fresh Buffer, so callers get the type the contract names. */
function plainBytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The claim's answer when `record` is live; undefined when the key is free to take. */
function liveOutcome(record: IdempotencyRecord | undefined, now: number): ClaimResult | undefined {
  if (!record || !isLive(record, now)) return undefined;
  return record.state === "in_flight" ? { outcome: "in_flight", record } : { outcome: "completed", record };
}

/** Live means: an in-flight lease that has not lapsed, or a completed record that has not expired. */
function isLive(record: IdempotencyRecord, now: number): boolean {
  return (record.state === "in_flight" ? record.leaseExpiresAt : record.expiresAt) > now;
}
