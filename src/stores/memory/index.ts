/**
 * The in-memory store: records live in a `Map` of this process. Nothing survives a
 * restart and nothing is shared with other processes, so it suits tests, development
 * and single-instance services that accept losing their keys on restart.
 *
 * @module
 */

import { InvalidOptionError, InvalidStoreUrlError, StoreClosedError } from "../../core/errors.js";
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
import {
  type PackedFields,
  type PackedRecord,
  packedExpiresAt,
  packedFirstChunk,
  packedLength,
  packInto,
  unpackRecord,
} from "./packed-record.js";
import { RecordArena } from "./record-arena.js";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How often expired records are deleted in the background. Expiry is also checked
   * on every access, so this only bounds memory use; `0` turns the timer off. The timer
   * is unref'd: it never keeps the process alive.
   * @default 60_000
   */
  purgeIntervalMs?: number;
}

/** An in-flight record as kept: what its claim said, and the body chunks appended so far, by index. */
interface InFlightEntry {
  readonly state: "in_flight";
  readonly fingerprint: string;
  readonly token: string;
  readonly createdAt: number;
  leaseExpiresAt: number;
  chunks: Uint8Array[] | undefined;
}

/**
 * A completed record as kept: packed (see {@link PackedRecord}) into the store's arena,
 * and known by its slot there. A body of at most one chunk needs nothing else, so that
 * the many records kept are no heap objects at all (besides their keys) for a garbage
 * collection to copy or mark; a body of several chunks keeps chunks 1 … chunkCount-1
 * beside the slot.
 */
type CompletedEntry = number | ChunkedEntry;

interface ChunkedEntry {
  readonly state: "completed";
  readonly slot: number;
  readonly laterChunks: readonly (Uint8Array | undefined)[];
}

type Entry = InFlightEntry | CompletedEntry;

const NO_CHUNKS: readonly Uint8Array[] = [];

/**
 * An {@link InspectableStore} kept in process memory. Every method runs synchronously
 * to the end before yielding, which is what makes each one atomic here. Byte arrays are copied on the way in and out, so
 * callers can never alter stored bodies.
 */
export class MemoryStore implements InspectableStore {
  /** Records by scope, then by key: no map key has to be built from the two on every call. */
  readonly #scopes = new Map<string, Map<string, Entry>>();
  readonly #arena = new RecordArena();
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param [options.purgeIntervalMs=60000] see {@link MemoryStoreOptions.purgeIntervalMs} */
  constructor({ purgeIntervalMs = 60_000 }: MemoryStoreOptions = {}) {
    if (!Number.isFinite(purgeIntervalMs) || purgeIntervalMs < 0) {
      throw new InvalidOptionError(`purgeIntervalMs must be a non-negative number, got ${purgeIntervalMs}`);
    }
    if (purgeIntervalMs > 0) {
      this.#timer = setInterval(() => this.#purge(Date.now(), Number.POSITIVE_INFINITY), purgeIntervalMs);
      this.#timer.unref();
    }
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    this.#assertOpen();
    const now = Date.now();
    const existing = this.#find(input);
    if (existing !== undefined) {
      // Not #isLive: a replay reads its packed bytes through one view, not two.
      if (isInFlight(existing)) {
        if (existing.leaseExpiresAt > now)
          return { outcome: "in_flight", record: inFlightRecord(input, existing) };
      } else {
        const packed = this.#packed(existing);
        if (packedExpiresAt(packed) > now)
          return { outcome: "completed", record: unpackRecord(input, packed) };
      }
      this.#forget(existing);
    }
    const { scope, key, token } = input;
    this.#put(input, {
      state: "in_flight",
      fingerprint: input.fingerprint,
      token,
      createdAt: now,
      leaseExpiresAt: now + input.leaseMs,
      chunks: undefined,
    });
    return { outcome: "acquired", lease: { scope, key, token }, tookOver: existing !== undefined };
  }

  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    const entry = this.#owned(lease);
    if (entry) entry.leaseExpiresAt = Date.now() + leaseMs;
    return entry !== undefined;
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#owned(lease) !== undefined && this.#remove(lease);
  }

  async appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    entry.chunks ??= [];
    entry.chunks[index] = new Uint8Array(data);
    return true;
  }

  async complete(lease: Lease, { response, finalChunk, ttlMs }: CompletionInput): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    const { chunkCount } = response;
    const appended = entry.chunks ?? NO_CHUNKS;
    const now = Date.now();
    const slot = this.#pack({
      fingerprint: entry.fingerprint,
      createdAt: entry.createdAt,
      completedAt: now,
      expiresAt: now + ttlMs,
      response,
      firstChunk: chunkCount === 1 ? finalChunk : chunkCount > 1 ? appended[0] : undefined,
    });
    this.#put(
      lease,
      chunkCount > 1
        ? { state: "completed", slot, laterChunks: laterChunksOf(appended, chunkCount, finalChunk) }
        : slot,
    );
    return true;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    this.#assertOpen();
    const entry = this.#find(ref);
    return entry !== undefined && this.#isLive(entry, Date.now()) ? this.#output(ref, entry) : undefined;
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const entry = this.#find(ref);
    if (entry === undefined || isInFlight(entry) || !this.#isLive(entry, Date.now())) return undefined;
    if (index === 0) return packedFirstChunk(this.#packed(entry));
    const later = laterChunksIn(entry);
    // Only the record's own chunks: an index outside them never reaches the array.
    if (!Number.isInteger(index) || index < 1 || index > later.length) return undefined;
    const chunk = later[index - 1];
    return chunk && new Uint8Array(chunk);
  }

  async purgeExpired(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.#assertOpen();
    return this.#purge(Date.now(), limit);
  }

  /**
   * Live records a page at a time, ordered by a string made of scope and key, which is
   * also the cursor: records added or deleted between pages shift nothing.
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
    const rest: Array<{ id: string; ref: RecordRef; entry: Entry }> = [];
    for (const [scope, keys] of this.#scopes) {
      for (const [key, entry] of keys) {
        const id = listingId(scope, key);
        if ((cursor === undefined || id > cursor) && this.#isLive(entry, now))
          rest.push({ id, ref: { scope, key }, entry });
      }
    }
    rest.sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = rest.slice(0, limit);
    const records = page.map(({ ref, entry }) => this.#output(ref, entry));
    const last = page.at(-1);
    return rest.length > limit && last ? { records, cursor: last.id } : { records };
  }

  async delete(ref: RecordRef): Promise<boolean> {
    this.#assertOpen();
    return this.#remove(ref);
  }

  /** Stops the purge timer and drops every record. Calling it again does nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#scopes.clear();
    this.#arena.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #find({ scope, key }: RecordRef): Entry | undefined {
    return this.#scopes.get(scope)?.get(key);
  }

  #put({ scope, key }: RecordRef, entry: Entry): void {
    let keys = this.#scopes.get(scope);
    if (!keys) {
      keys = new Map();
      this.#scopes.set(scope, keys);
    }
    keys.set(key, entry);
  }

  #remove({ scope, key }: RecordRef): boolean {
    const keys = this.#scopes.get(scope);
    const entry = keys?.get(key);
    if (keys === undefined || entry === undefined) return false;
    keys.delete(key);
    this.#forget(entry);
    if (keys.size === 0) this.#scopes.delete(scope);
    return true;
  }

  /** Frees what an entry leaving the map holds in the arena. */
  #forget(entry: Entry): void {
    if (!isInFlight(entry)) this.#arena.free(slotOf(entry));
  }

  #pack(fields: PackedFields): number {
    const slot = this.#arena.allocate(packedLength(fields));
    packInto(this.#arena.bytes(slot), fields);
    return slot;
  }

  /** A view of a completed entry's packed bytes, valid until the arena changes. */
  #packed(entry: CompletedEntry): PackedRecord {
    return this.#arena.bytes(slotOf(entry));
  }

  /** A record the caller may keep and mutate freely. */
  #output(ref: RecordRef, entry: Entry): IdempotencyRecord {
    return isInFlight(entry) ? inFlightRecord(ref, entry) : unpackRecord(ref, this.#packed(entry));
  }

  /** Live means: an in-flight lease that has not lapsed, or a completed record that has not expired. */
  #isLive(entry: Entry, now: number): boolean {
    return (isInFlight(entry) ? entry.leaseExpiresAt : packedExpiresAt(this.#packed(entry))) > now;
  }

  /**
   * The in-flight entry that `lease.token` owns. A lapsed lease still counts: only a
   * takeover (or a purge) ends ownership, as the contract requires of `complete`.
   */
  #owned(lease: Lease): InFlightEntry | undefined {
    this.#assertOpen();
    const entry = this.#find(lease);
    return entry !== undefined && isInFlight(entry) && entry.token === lease.token ? entry : undefined;
  }

  /** Deletes up to `limit` expired records, then compacts what they leave in the arena. */
  #purge(now: number, limit: number): number {
    const deleted = this.#deleteExpired(now, limit);
    this.#arena.compact();
    return deleted;
  }

  #deleteExpired(now: number, limit: number): number {
    let deleted = 0;
    for (const [scope, keys] of this.#scopes) {
      for (const [key, entry] of keys) {
        if (deleted >= limit) return deleted;
        if (this.#isLive(entry, now)) continue;
        keys.delete(key);
        this.#forget(entry);
        deleted += 1;
      }
      if (keys.size === 0) this.#scopes.delete(scope);
    }
    return deleted;
  }
}

/**
 * Creates an in-memory store.
 *
 * @param [options.purgeIntervalMs=60000] how often expired records are swept; `0` turns the sweep off
 * @example
 * const store = createMemoryStore();
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}

/**
 * Creates an in-memory store from the URL `memory:`, which takes no parameters.
 * @throws {InvalidStoreUrlError} for anything other than `memory:`
 */
export function memoryStoreFromUrl(url: string): MemoryStore {
  // The URL is not echoed: whatever follows the scheme might be a secret pasted by mistake.
  if (url.toLowerCase() !== "memory:") {
    throw new InvalidStoreUrlError('the memory store URL is exactly "memory:", with nothing after the colon');
  }
  return new MemoryStore();
}

/** The listing order and cursor: the scope's length up front keeps `("a:b", "c")` and `("a", "b:c")` apart. */
function listingId(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

/**
 * Chunks 1 … chunkCount-1 of a completing record: those appended, then a copy of the final
 * one. Chunks at or above chunkCount are dropped.
 */
function laterChunksOf(
  appended: readonly Uint8Array[],
  chunkCount: number,
  finalChunk: Uint8Array,
): readonly (Uint8Array | undefined)[] {
  const later: Array<Uint8Array | undefined> = [];
  for (let index = 1; index < chunkCount - 1; index++) later.push(appended[index]);
  later.push(new Uint8Array(finalChunk));
  return later;
}

function isInFlight(entry: Entry): entry is InFlightEntry {
  return typeof entry !== "number" && entry.state === "in_flight";
}

function slotOf(entry: CompletedEntry): number {
  return typeof entry === "number" ? entry : entry.slot;
}

function laterChunksIn(entry: CompletedEntry): readonly (Uint8Array | undefined)[] {
  return typeof entry === "number" ? NO_CHUNKS : entry.laterChunks;
}

function inFlightRecord({ scope, key }: RecordRef, entry: InFlightEntry): InFlightRecord {
  const { fingerprint, token, createdAt, leaseExpiresAt } = entry;
  return { state: "in_flight", scope, key, fingerprint, token, createdAt, leaseExpiresAt };
}
