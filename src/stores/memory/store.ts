/**
 * The in-memory store: records live in `Map`s of this process, within bounds on their
 * number and size.
 * @module
 */
import { InvalidOptionError, StoreClosedError } from "../../core/errors.js";
import type {
  ClaimInput,
  ClaimResult,
  CompletionInput,
  IdempotencyRecord,
  InspectableStore,
  Lease,
  RecordPage,
  RecordRef,
} from "../../store.js";
import { checkPageLimit, DEFAULT_PAGE_LIMIT } from "../paging.js";
import { DEFAULT_PURGE_INTERVAL, purgeIntervalOf } from "../purge-interval.js";

import {
  type CompletedEntry,
  completedRecord,
  copy,
  type InFlightEntry,
  inFlightRecord,
  recordId,
  refOf,
} from "./entries.js";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How often expired records are deleted in the background. Expiry is also checked
   * on every access, so this only frees memory sooner; `0` turns the timer off. The timer
   * is unref'd: it never keeps the process alive.
   * @default 60_000
   */
  purgeInterval?: number;
  /** @deprecated use `purgeInterval` (same value, in milliseconds) */
  purgeIntervalMs?: number;
  /**
   * The most records kept, in flight and completed. Past it, the completed record used
   * least recently (completed, or last replayed) is evicted; in-flight records never are.
   * @default 100_000
   */
  maxEntries?: number;
  /**
   * The most bytes the records take, approximately: their body bytes, the text of their
   * scope, key, fingerprint and headers, and {@link RECORD_OVERHEAD_BYTES} each. Past it,
   * completed records are evicted as for `maxEntries`. A response too large to be kept
   * under it on its own is kept without its body (`bodyOmitted`, as for the engine's
   * `maxBodyBytes`): its key is still completed, so a retry never runs it again.
   * @default 67_108_864 (64 MiB)
   */
  maxBytes?: number;
}

/** The defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = {
  purgeInterval: DEFAULT_PURGE_INTERVAL,
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
} as const satisfies Required<Omit<MemoryStoreOptions, "purgeIntervalMs">>;

/** What each record is counted as besides its bytes and text: the objects that hold it. */
export const RECORD_OVERHEAD_BYTES = 256;

const NO_CHUNKS: readonly Uint8Array[] = [];

/**
 * An {@link InspectableStore} kept in process memory. Every method runs synchronously
 * to the end before it yields, which is what makes each one atomic here. Byte arrays and
 * headers are copied on the way in and out, so callers can never alter stored records.
 */
export class MemoryStore implements InspectableStore {
  /** In-flight records by {@link recordId}. */
  readonly #inFlight = new Map<string, InFlightEntry>();
  /** Completed records by {@link recordId}, least recently used first (a `Map` keeps insertion order). */
  readonly #completed = new Map<string, CompletedEntry>();
  /**
   * Walks {@link #completed} from its least recently used record, kept from one eviction to
   * the next: a fresh iterator would step again over every entry deleted since the map was
   * last rehashed, which made evicting cost more the longer the store ran.
   */
  #leastRecent: Iterator<string> = this.#completed.keys();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param [options.purgeInterval=60000] see {@link MemoryStoreOptions.purgeInterval}
   * @param [options.maxEntries=100000] see {@link MemoryStoreOptions.maxEntries}
   * @param [options.maxBytes=67108864] see {@link MemoryStoreOptions.maxBytes}
   * @throws {InvalidOptionError} when an option is not a number in its range, or is given under both its names
   */
  constructor(options: MemoryStoreOptions = {}) {
    const { maxEntries = MEMORY_STORE_DEFAULTS.maxEntries, maxBytes = MEMORY_STORE_DEFAULTS.maxBytes } =
      options;
    const purgeInterval = purgeIntervalOf(options);
    for (const [name, value] of Object.entries({ maxEntries, maxBytes })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`);
      }
    }
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    if (purgeInterval > 0) {
      this.#timer = setInterval(() => this.#purge(Date.now(), Number.POSITIVE_INFINITY), purgeInterval);
      this.#timer.unref();
    }
  }

  /** How many records are kept, and about how many bytes they take (see {@link MemoryStoreOptions.maxBytes}). */
  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.#inFlight.size + this.#completed.size, bytes: this.#bytes };
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    this.#assertOpen();
    const now = Date.now();
    const id = recordId(input);
    const completed = this.#completed.get(id);
    if (completed && completed.expiresAt > now) {
      // Replayed: now the most recently used.
      this.#completed.delete(id);
      this.#completed.set(id, completed);
      return { outcome: "completed", record: completedRecord(input, completed) };
    }
    const inFlight = this.#inFlight.get(id);
    if (inFlight && inFlight.leaseExpiresAt > now) {
      return { outcome: "in_flight", record: inFlightRecord(input, inFlight) };
    }
    const tookOver = this.#remove(id);
    const { scope, key, fingerprint, token } = input;
    const bytes = RECORD_OVERHEAD_BYTES + scope.length + key.length + fingerprint.length + token.length;
    this.#inFlight.set(id, {
      fingerprint,
      token,
      createdAt: now,
      leaseExpiresAt: now + input.leaseMs,
      chunks: undefined,
      bytes,
    });
    this.#bytes += bytes;
    this.#evict();
    return { outcome: "acquired", lease: { scope, key, token }, tookOver };
  }

  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    const entry = this.#owned(lease);
    if (entry) entry.leaseExpiresAt = Date.now() + leaseMs;
    return entry !== undefined;
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#owned(lease) !== undefined && this.#remove(recordId(lease));
  }

  async appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    entry.chunks ??= [];
    const change = data.byteLength - (entry.chunks[index]?.byteLength ?? 0);
    entry.chunks[index] = copy(data);
    entry.bytes += change;
    this.#bytes += change;
    this.#evict();
    return true;
  }

  async complete(lease: Lease, { response, finalChunk, ttlMs }: CompletionInput): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    const id = recordId(lease);
    const now = Date.now();
    const { chunkCount } = response;
    const appended = entry.chunks ?? NO_CHUNKS;
    const chunks: Array<Uint8Array | undefined> = [];
    for (let index = 0; index < chunkCount - 1; index++) chunks.push(appended[index]);
    if (chunkCount > 0) chunks.push(copy(finalChunk));
    // Sized up front: an array grown by push keeps spare room, for as long as the record lives.
    const headers = new Array<string>(2 * response.headers.length);
    let bytes = RECORD_OVERHEAD_BYTES + lease.scope.length + lease.key.length + entry.fingerprint.length;
    response.headers.forEach(([name, value], index) => {
      headers[2 * index] = name;
      headers[2 * index + 1] = value;
      bytes += name.length + value.length;
    });
    let bodyBytes = 0;
    for (const chunk of chunks) bodyBytes += chunk?.byteLength ?? 0;
    // Too large to keep on its own: kept without its body, so the key still never runs twice.
    const bodyOmitted = response.bodyOmitted || bytes + bodyBytes > this.#maxBytes;
    this.#remove(id);
    this.#completed.set(id, {
      fingerprint: entry.fingerprint,
      createdAt: entry.createdAt,
      completedAt: now,
      expiresAt: now + ttlMs,
      status: response.status,
      headers,
      bodyLength: bodyOmitted ? 0 : response.bodyLength,
      bodyOmitted,
      chunkCount: bodyOmitted ? 0 : chunkCount,
      firstChunk: bodyOmitted ? undefined : chunks[0],
      laterChunks: bodyOmitted || chunkCount < 2 ? undefined : chunks.slice(1),
      bytes: bodyOmitted ? bytes : bytes + bodyBytes,
    });
    this.#bytes += bodyOmitted ? bytes : bytes + bodyBytes;
    this.#evict();
    return true;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    this.#assertOpen();
    return this.#live(ref, recordId(ref), Date.now());
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const entry = this.#completed.get(recordId(ref));
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    // Only the record's own chunks: an index outside them never reaches the array.
    if (!Number.isInteger(index) || index < 0 || index >= entry.chunkCount) return undefined;
    const chunk = index === 0 ? entry.firstChunk : entry.laterChunks?.[index - 1];
    return chunk && new Uint8Array(chunk);
  }

  async purgeExpired(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.#assertOpen();
    return this.#purge(Date.now(), limit);
  }

  /**
   * Live records a page at a time, ordered by their id, a string made of scope and key,
   * which is also the cursor: records added or deleted between pages shift nothing.
   * @param [options.limit=100] the most records on one page
   */
  async list({
    limit = DEFAULT_PAGE_LIMIT,
    cursor,
  }: {
    readonly limit?: number;
    readonly cursor?: string;
  } = {}): Promise<RecordPage> {
    this.#assertOpen();
    checkPageLimit(limit);
    const now = Date.now();
    const rest: Array<{ id: string; record: IdempotencyRecord }> = [];
    for (const id of [...this.#inFlight.keys(), ...this.#completed.keys()]) {
      const record = cursor === undefined || id > cursor ? this.#live(refOf(id), id, now) : undefined;
      if (record) rest.push({ id, record });
    }
    rest.sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = rest.slice(0, limit);
    const last = page.at(-1);
    const records = page.map(({ record }) => record);
    return rest.length > limit && last ? { records, cursor: last.id } : { records };
  }

  async delete(ref: RecordRef): Promise<boolean> {
    this.#assertOpen();
    return this.#remove(recordId(ref));
  }

  /** Stops the purge timer and drops every record. Calling it again does nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#inFlight.clear();
    this.#completed.clear();
    this.#bytes = 0;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /** The live record `id` (of `ref`), or undefined. */
  #live(ref: RecordRef, id: string, now: number): IdempotencyRecord | undefined {
    const completed = this.#completed.get(id);
    if (completed) return completed.expiresAt > now ? completedRecord(ref, completed) : undefined;
    const inFlight = this.#inFlight.get(id);
    return inFlight && inFlight.leaseExpiresAt > now ? inFlightRecord(ref, inFlight) : undefined;
  }

  /** Deletes record `id`, in flight or completed; false when there was none. */
  #remove(id: string): boolean {
    const entry = this.#inFlight.get(id) ?? this.#completed.get(id);
    if (!entry) return false;
    this.#inFlight.delete(id);
    this.#completed.delete(id);
    this.#bytes -= entry.bytes;
    return true;
  }

  /** Evicts completed records, least recently used first, until both bounds hold or none is left. */
  #evict(): void {
    while (
      this.#completed.size > 0 &&
      (this.#inFlight.size + this.#completed.size > this.#maxEntries || this.#bytes > this.#maxBytes)
    ) {
      let next = this.#leastRecent.next();
      // Finished when it had passed every record: later ones need a new walk.
      if (next.done) {
        this.#leastRecent = this.#completed.keys();
        next = this.#leastRecent.next();
      }
      if (next.done) return;
      this.#remove(next.value);
    }
  }

  /**
   * The in-flight entry that `lease.token` owns. A lapsed lease still counts: only a
   * takeover (or a purge) ends ownership, as the contract requires of `complete`.
   */
  #owned(lease: Lease): InFlightEntry | undefined {
    this.#assertOpen();
    const entry = this.#inFlight.get(recordId(lease));
    return entry?.token === lease.token ? entry : undefined;
  }

  /** Deletes up to `limit` expired completed records and lapsed in-flight ones. */
  #purge(now: number, limit: number): number {
    let deleted = 0;
    for (const [id, entry] of this.#inFlight) {
      if (deleted >= limit) return deleted;
      if (entry.leaseExpiresAt <= now && this.#remove(id)) deleted += 1;
    }
    for (const [id, entry] of this.#completed) {
      if (deleted >= limit) return deleted;
      if (entry.expiresAt <= now && this.#remove(id)) deleted += 1;
    }
    return deleted;
  }
}
