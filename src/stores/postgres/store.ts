/**
 * {@link PostgresStore}: the store contract on PostgreSQL, one SQL statement per call (a
 * claim one or two).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { InvalidOptionError, StoreClosedError, StoreUnavailableError } from "../../core/errors.js";
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
import { checkPageLimit, DEFAULT_PAGE_LIMIT } from "../paging.js";
import { purgeIntervalOf } from "../purge-interval.js";
import { decodeRecordRow, encodeHeaders, type RecordRow } from "../record-codec.js";
import { StoreNotifier, type Subscription, type SubscriptionEvents } from "../store-notifier.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { migrationSql } from "./migrate.js";
import { DEFAULT_TABLE, objectNames, withNames } from "./names.js";
import { type PostgresPool, type PostgresQueryResult, type PostgresStatement, runQuery } from "./pool.js";
import {
  APPEND_CHUNK,
  CLAIM_FREE,
  COMPLETE,
  COMPLETE_ONE,
  DELETE_RECORD,
  LIST,
  PURGE_BATCH,
  READ,
  READ_CHUNK,
  READ_WITH_CHUNK,
  RELEASE,
  RENEW,
  TAKE_OVER,
  WATCH,
} from "./sql.js";

/** Options of {@link PostgresStore} and of `createPostgresStore`, however the database is reached. */
export interface PostgresStoreCommonOptions {
  /**
   * Prefix of the store's object names: the tables `<table>_records` and
   * `<table>_chunks` and two indexes. ASCII letters,
   * digits and underscores; names are quoted, so case matters.
   * @default "oncely"
   */
  table?: string;
  /**
   * Schema holding the store's objects; it must exist. Without it, names are unqualified
   * and resolve through the connection's `search_path`.
   */
  schema?: string;
  /**
   * Whether the store creates its missing tables on first use (see `migrate`). Turn
   * it off when the schema is set up at deploy time by a more privileged role.
   * @default true
   */
  migrate?: boolean;
  /**
   * How often expired records and their chunks are deleted in the background, in small
   * batches that skip rows other transactions hold. Expiry is also checked on every
   * access, so this only bounds the tables' growth; `0` turns the timer off. The timer is
   * unref'd: it never keeps the process alive.
   * @default 60_000
   */
  purgeInterval?: number;
  /** @deprecated use `purgeInterval` (same value, in milliseconds) */
  purgeIntervalMs?: number;
  /**
   * Whether statements go as named prepared statements, parsed and planned once per
   * connection. Turn it off behind PgBouncer in transaction mode before version 1.21 (or
   * with `max_prepared_statements = 0`), where a prepared statement cannot follow its
   * client from one server connection to the next; each statement is then parsed and
   * planned on every call, which costs the database server CPU.
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * Whether the migration creates missing tables UNLOGGED: writes skip the write-ahead
   * log, so each new key costs the server less. **The risk:** after a crash of the
   * database server (not of the application) PostgreSQL empties unlogged tables, so every
   * stored response and every in-flight lease is lost, and retries of requests that had
   * already run execute again. Unlogged tables are not replicated either. Tables that
   * exist are left as they are.
   * @default false
   */
  unlogged?: boolean;
}

/** What the {@link PostgresStore} constructor takes: the common options, each possibly undefined, and how to end an owned pool. */
export type PostgresStoreSettings = {
  [Name in keyof PostgresStoreCommonOptions]?: PostgresStoreCommonOptions[Name] | undefined;
} & {
  endPool?: () => Promise<void>;
  /**
   * Opens a connection outside the pool that LISTENs on the store's channel for the
   * changes of records that duplicates wait for. Without it, waiting duplicates poll.
   */
  listen?: ((channel: string, events: SubscriptionEvents) => Promise<Subscription>) | undefined;
};

/** The statements of a store, before its object names are filled in. */
const STATEMENTS = {
  read: READ,
  readWithChunk: READ_WITH_CHUNK,
  claimFree: CLAIM_FREE,
  takeOver: TAKE_OVER,
  renew: RENEW,
  release: RELEASE,
  appendChunk: APPEND_CHUNK,
  complete: COMPLETE,
  completeOne: COMPLETE_ONE,
  readChunk: READ_CHUNK,
  purgeBatch: PURGE_BATCH,
  list: LIST,
  deleteRecord: DELETE_RECORD,
  watch: WATCH,
};

/** Records deleted per statement by a purge: few enough that each statement is short. */
const PURGE_BATCH_SIZE = 100;
const DEFAULT_PURGE_LIMIT = 1_000;
/** Claims in a row that may find the key changed under them (see `READ`) before giving up. */
const CLAIM_ATTEMPTS = 5;
/** The largest chunk index an `integer` column holds. */
const MAX_CHUNK_INDEX = 2_147_483_647;

/** A row carrying a record, as the read and list statements return it. */
type RecordResultRow = RecordRow & { first_chunk: unknown };

/** A row of `READ`: a record and the database clock. */
type ReadRow = RecordResultRow & { now_ms: unknown };

/**
 * Whether the record of `row` is dead, by the database clock, as `IS_DEAD` tells it: a
 * row that is neither clearly lapsed nor clearly expired is live, so that a damaged row
 * (unknown state, missing times) reaches the decoder and is reported rather than silently
 * replaced.
 */
function isDead(row: ReadRow): boolean {
  const end =
    row.state === "in_flight" ? row.lease_expires_at : row.state === "completed" ? row.expires_at : null;
  return end !== null && end !== undefined && Number(end) <= Number(row.now_ms);
}

/**
 * An {@link InspectableStore} in PostgreSQL. Each method is one statement that commits
 * on its own, atomic under READ COMMITTED, except a claim, which is one statement when it
 * is of the kind the previous claim was (an insert of a new key, or the read of a live
 * record) and two otherwise; a read of a body kept in the chunks table (longer than one
 * chunk) adds one. Claims
 * rely on `INSERT … ON CONFLICT` and on the takeover's re-check under the row lock, and
 * every write to an in-flight record is fenced by its owner token. Times come from the
 * database clock. Connection failures and timeouts surface as `StoreUnavailableError`.
 */
export class PostgresStore implements InspectableStore {
  readonly #pool: PostgresPool;
  readonly #endPool: (() => Promise<void>) | undefined;
  readonly #sql: Readonly<Record<keyof typeof STATEMENTS, PostgresStatement>>;
  readonly #migrationSql: string;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #notifier: StoreNotifier | undefined;
  #migration: Promise<void> | undefined;
  #ready: boolean;
  #purging = false;
  #closed = false;
  /**
   * Whether the last claim found a live record. A claim starts with what the last one
   * needed: a read, which is all a replay costs, or the insert, which is all a new key
   * costs. Traffic of one kind pays one statement per claim; a wrong guess, one more.
   */
  #expectRecord = true;

  /**
   * Wraps a pool. `createPostgresStore` is usually simpler: it can also create the pool.
   * @param pool a `pg.Pool` or anything with its `query` method
   * @param [options.table="oncely"] see {@link PostgresStoreCommonOptions.table}
   * @param [options.schema] see {@link PostgresStoreCommonOptions.schema}
   * @param [options.migrate=true] see {@link PostgresStoreCommonOptions.migrate}
   * @param [options.purgeInterval=60000] see {@link PostgresStoreCommonOptions.purgeInterval}
   * @param [options.preparedStatements=true] see {@link PostgresStoreCommonOptions.preparedStatements}
   * @param [options.unlogged=false] see {@link PostgresStoreCommonOptions.unlogged}
   * @param [options.endPool] called by `close()`; pass it when the store owns the pool
   * @param [options.listen] opens a connection to LISTEN on, so that waiting duplicates need not poll
   * @throws {InvalidOptionError} for a malformed name or interval, or an interval given under both its names
   */
  constructor(pool: PostgresPool, settings: PostgresStoreSettings = {}) {
    const {
      table = DEFAULT_TABLE,
      schema,
      migrate = true,
      preparedStatements = true,
      unlogged = false,
      endPool,
      listen,
    } = settings;
    const purgeInterval = purgeIntervalOf(settings);
    const names = objectNames(table, schema);
    this.#pool = pool;
    this.#endPool = endPool;
    this.#sql = Object.fromEntries(
      Object.entries(STATEMENTS).map(([operation, sql]) => {
        const text = withNames(sql, names);
        return [operation, preparedStatements ? { name: statementName(operation, text), text } : { text }];
      }),
    ) as Record<keyof typeof STATEMENTS, PostgresStatement>;
    this.#migrationSql = migrationSql(names, unlogged);
    this.#migration = migrate ? undefined : Promise.resolve();
    this.#ready = !migrate;
    if (purgeInterval > 0) {
      this.#timer = setInterval(() => void this.#purgeInBackground(), purgeInterval);
      this.#timer.unref();
    }
    if (listen) {
      const notifier = new StoreNotifier({
        subscribe: (events) => listen(names.channel, events),
        watch: async ({ scope, key, token }) =>
          (await this.#query(this.#sql.watch, [scope, key, token])).rowCount === 1,
        idOf: notificationId,
      });
      this.#notifier = notifier;
      this.waitForChange = (record, timeoutMs) => notifier.wait(record, timeoutMs);
    }
  }

  /**
   * Present when the store listens for notifications (a store created from a URL, unless
   * `notifications: false`): resolves when the record's completion or release is notified
   * on the store's LISTEN connection, from any process, or after `timeoutMs`. See
   * `IdempotencyStore.waitForChange`.
   */
  readonly waitForChange?: (record: InFlightRecord, timeoutMs: number) => Promise<void>;

  /** How many duplicates wait in {@link waitForChange} now (0 without notifications). */
  get waiting(): number {
    return this.#notifier?.size ?? 0;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    // A claim finds the key changed under it only when a concurrent claim, release or
    // purge changed it between its read and its write: each retry follows one, so a few
    // are plenty.
    for (let attempt = 1; ; attempt++) {
      const result = await this.#claimOnce(input);
      if (result !== undefined) return result;
      if (attempt === CLAIM_ATTEMPTS) {
        throw new StoreUnavailableError(
          `PostgreSQL store: the key changed under ${CLAIM_ATTEMPTS} claims in a row`,
        );
      }
    }
  }

  /**
   * Inserts an in-flight record, or reads the key's record and takes it over when it is
   * dead; undefined when the key changed between two statements.
   */
  async #claimOnce({
    scope,
    key,
    fingerprint,
    token,
    leaseMs,
  }: ClaimInput): Promise<ClaimResult | undefined> {
    const ref = { scope, key };
    const claimValues = [scope, key, fingerprint, token, milliseconds(leaseMs)];
    if (!this.#expectRecord && (await this.#query(this.#sql.claimFree, claimValues)).rowCount === 1) {
      return { outcome: "acquired", lease: { scope, key, token }, tookOver: false };
    }
    const row = await this.#read(ref);
    if (row && !isDead(row)) {
      this.#expectRecord = true;
      const record = decodeRecordRow(ref, row, bytes(row.first_chunk));
      return record.state === "in_flight"
        ? { outcome: "in_flight", record }
        : { outcome: "completed", record };
    }
    // A dead record is replaced under its row lock; a free key takes an insert.
    const write = row ? this.#sql.takeOver : this.#sql.claimFree;
    const { rowCount } = await this.#query(write, claimValues);
    if (rowCount !== 1) return undefined;
    this.#expectRecord = false;
    return { outcome: "acquired", lease: { scope, key, token }, tookOver: row !== undefined };
  }

  async renew({ scope, key, token }: Lease, leaseMs: number): Promise<boolean> {
    const { rowCount } = await this.#query(this.#sql.renew, [scope, key, token, milliseconds(leaseMs)]);
    return rowCount === 1;
  }

  async release({ scope, key, token }: Lease): Promise<boolean> {
    const { rows } = await this.#query(this.#sql.release, [scope, key, token]);
    return (rows[0] as { released: number } | undefined)?.released === 1;
  }

  async appendChunk({ scope, key, token }: Lease, index: number, data: Uint8Array): Promise<boolean> {
    if (!isChunkIndex(index))
      throw new InvalidOptionError(`chunk index must be a non-negative integer, got ${index}`);
    return (await this.#query(this.#sql.appendChunk, [scope, key, token, index, data])).rowCount === 1;
  }

  async complete(
    { scope, key, token }: Lease,
    { response, finalChunk, ttlMs, fingerprint }: CompletionInput,
  ): Promise<boolean> {
    const inline = response.chunkCount <= 1 && !response.bodyOmitted;
    const { rows } = await this.#query(inline ? this.#sql.completeOne : this.#sql.complete, [
      scope,
      key,
      token,
      milliseconds(ttlMs),
      response.status,
      encodeHeaders(response.headers),
      response.bodyLength,
      response.chunkCount,
      response.bodyOmitted,
      finalChunk,
      fingerprint ?? null,
    ]);
    return (rows[0] as { completed: number } | undefined)?.completed === 1;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    const row = await this.#read(ref);
    return row && !isDead(row)
      ? decodeRecordRow({ scope: ref.scope, key: ref.key }, row, bytes(row.first_chunk))
      : undefined;
  }

  async readChunk({ scope, key }: RecordRef, index: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    if (!isChunkIndex(index)) return undefined;
    const { rows } = await this.#query(this.#sql.readChunk, [scope, key, index]);
    return bytes((rows[0] as { data?: unknown } | undefined)?.data);
  }

  /**
   * Deletes up to `limit` expired records and lapsed leases, with their chunks, in
   * statements of {@link PURGE_BATCH_SIZE} records that skip rows other transactions hold.
   * @param [limit=1000] the most records to delete; `Infinity` deletes all it can
   */
  async purgeExpired(limit = DEFAULT_PURGE_LIMIT): Promise<number> {
    this.#assertOpen();
    if (Number.isNaN(limit) || limit < 0)
      throw new InvalidOptionError(`limit must be non-negative, got ${limit}`);
    let deleted = 0;
    while (deleted < limit) {
      const batch = Math.min(PURGE_BATCH_SIZE, Math.floor(limit - deleted));
      if (batch === 0) break;
      const { rowCount } = await this.#query(this.#sql.purgeBatch, [batch]);
      deleted += rowCount ?? 0;
      // A short batch means nothing more is due, or the rest is held by others for now.
      if ((rowCount ?? 0) < batch) break;
    }
    return deleted;
  }

  /**
   * Live records a page at a time, in (scope, key) order; the cursor names the last
   * record of the page, so records added or deleted between pages shift nothing.
   * @param [options.limit=100] the most records on one page
   */
  async list({
    limit = DEFAULT_PAGE_LIMIT,
    cursor,
  }: {
    readonly limit?: number;
    readonly cursor?: string;
  } = {}): Promise<RecordPage> {
    checkPageLimit(limit);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    // One row more than the page shows whether another page follows.
    const { rows } = await this.#query(this.#sql.list, [after?.scope ?? null, after?.key ?? null, limit + 1]);
    const page = (rows as (RecordResultRow & RecordRef)[]).slice(0, limit);
    const records = page.map((row) =>
      decodeRecordRow({ scope: row.scope, key: row.key }, row, bytes(row.first_chunk)),
    );
    const last = page.at(-1);
    return rows.length > limit && last ? { records, cursor: encodeCursor(last) } : { records };
  }

  async delete({ scope, key }: RecordRef): Promise<boolean> {
    return (await this.#query(this.#sql.deleteRecord, [scope, key])).rowCount === 1;
  }

  /** Stops the purge timer and ends the pool if the store created it. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#notifier?.close();
    await this.#endPool?.();
  }

  /**
   * Creates the tables and the function now rather than on first use (what
   * `oncely migrate` runs). Safe to run concurrently and repeatedly.
   */
  async migrate(): Promise<void> {
    this.#assertOpen();
    await this.#migrated();
  }

  /** The key's record, live or dead, with its chunk 0 when it is live (see `READ`). */
  async #read({ scope, key }: RecordRef): Promise<ReadRow | undefined> {
    const row = (await this.#query(this.#sql.read, [scope, key])).rows[0] as ReadRow | undefined;
    const chunkElsewhere =
      row?.first_chunk === null && row.state === "completed" && Number(row.chunk_count) > 0;
    if (!row || !chunkElsewhere || isDead(row)) return row;
    return (await this.#query(this.#sql.readWithChunk, [scope, key])).rows[0] as ReadRow | undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /** Runs one statement, creating the schema first on the store's first use. */
  async #query(statement: PostgresStatement, values: unknown[]): Promise<PostgresQueryResult> {
    this.#assertOpen();
    // Once the schema is known to exist, a call need not wait for a settled promise.
    if (!this.#ready) await this.#migrated();
    this.#assertOpen();
    return runQuery(this.#pool, { ...statement, values });
  }

  /** The migration of this store, started once; a failed one is tried again by the next call. */
  #migrated(): Promise<void> {
    this.#migration ??= runQuery(this.#pool, this.#migrationSql).then(
      () => {
        this.#ready = true;
      },
      (error: unknown) => {
        this.#migration = undefined;
        throw error;
      },
    );
    return this.#migration;
  }

  async #purgeInBackground(): Promise<void> {
    if (this.#purging) return;
    this.#purging = true;
    try {
      await this.purgeExpired(Number.POSITIVE_INFINITY);
    } catch {
      // Nobody awaits the timer, so there is nobody to tell: the next run tries again,
      // and expiry is checked on every access anyway.
    } finally {
      this.#purging = false;
    }
  }
}

/**
 * The name of a prepared statement: the operation and a digest of its text, so that stores
 * with other tables sharing a pool never reuse a name for another text (pg refuses that).
 */
function statementName(operation: string, text: string): string {
  return `oncely_${operation}_${createHash("sha256").update(text).digest("base64url").slice(0, 12)}`;
}

/**
 * The payload the store's statements notify for a record (`NOTIFICATION_ID` in
 * `./sql.ts`): an MD5 digest of the length-prefixed scope and the key, so that no key
 * travels to listeners.
 */
function notificationId({ scope, key }: RecordRef): string {
  return createHash("md5")
    .update(`${Buffer.byteLength(scope)}:${scope}${key}`)
    .digest("hex");
}

/** Rounds a duration for a `bigint` parameter, which rejects fractions. */
function milliseconds(ms: number): number {
  return Math.round(ms);
}

function isChunkIndex(index: number): boolean {
  return Number.isSafeInteger(index) && index >= 0 && index <= MAX_CHUNK_INDEX;
}

/** A plain Uint8Array over pg's Buffer, so callers get the type the contract names. */
function bytes(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array
    ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    : undefined;
}
