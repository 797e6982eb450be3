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
  CompletedRecord,
  CompletionInput,
  IdempotencyRecord,
  InFlightRecord,
  InspectableStore,
  Lease,
  RecordPage,
  RecordRef,
  StoredResponse,
} from "../../store.js";
import { checkPageLimit, DEFAULT_PAGE_LIMIT } from "../paging.js";

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

/** A record as kept in the map: the body chunks sit beside it, by index (an array: a `Map` per record costs far more memory). */
interface Entry {
  record: InFlightRecord | Omit<CompletedRecord, "firstChunk">;
  chunks: Uint8Array[];
}

/**
 * An {@link InspectableStore} kept in process memory. Every method runs synchronously
 * to the end before yielding, which is what makes each one atomic here. Byte arrays are
 * copied on the way in and out, so callers can never alter stored bodies.
 */
export class MemoryStore implements InspectableStore {
  readonly #entries = new Map<string, Entry>();
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
    const id = entryId(input);
    const existing = this.#entries.get(id);
    if (existing && isLive(existing, now)) {
      const record = this.#output(existing);
      return record.state === "in_flight"
        ? { outcome: "in_flight", record }
        : { outcome: "completed", record };
    }
    const { scope, key, fingerprint, token } = input;
    const record: InFlightRecord = {
      state: "in_flight",
      scope,
      key,
      fingerprint,
      token,
      createdAt: now,
      leaseExpiresAt: now + input.leaseMs,
    };
    this.#entries.set(id, { record, chunks: [] });
    return { outcome: "acquired", lease: { scope, key, token }, tookOver: existing !== undefined };
  }

  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    const owned = this.#owned(lease);
    if (!owned) return false;
    owned.entry.record = { ...owned.record, leaseExpiresAt: Date.now() + leaseMs };
    return true;
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#owned(lease) !== undefined && this.#entries.delete(entryId(lease));
  }

  async appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    const owned = this.#owned(lease);
    if (!owned) return false;
    owned.entry.chunks[index] = new Uint8Array(data);
    return true;
  }

  async complete(lease: Lease, { response, finalChunk, ttlMs }: CompletionInput): Promise<boolean> {
    const owned = this.#owned(lease);
    if (!owned) return false;
    const { entry, record } = owned;
    const { chunkCount } = response;
    if (entry.chunks.length > chunkCount) entry.chunks.length = chunkCount;
    if (chunkCount > 0) entry.chunks[chunkCount - 1] = new Uint8Array(finalChunk);
    const now = Date.now();
    const { scope, key, fingerprint, createdAt } = record;
    entry.record = {
      state: "completed",
      scope,
      key,
      fingerprint,
      createdAt,
      completedAt: now,
      expiresAt: now + ttlMs,
      response: copyResponse(response),
    };
    return true;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    this.#assertOpen();
    const entry = this.#entries.get(entryId(ref));
    return entry && isLive(entry, Date.now()) ? this.#output(entry) : undefined;
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const entry = this.#entries.get(entryId(ref));
    if (entry?.record.state !== "completed" || !isLive(entry, Date.now())) return undefined;
    // Only the record's own chunks: an index outside them never reaches the array.
    if (!Number.isInteger(index) || index < 0 || index >= entry.record.response.chunkCount) return undefined;
    const chunk = entry.chunks[index];
    return chunk && new Uint8Array(chunk);
  }

  async purgeExpired(limit = Number.POSITIVE_INFINITY): Promise<number> {
    this.#assertOpen();
    return this.#purge(Date.now(), limit);
  }

  /**
   * Live records a page at a time, ordered by their map key, which is also the cursor:
   * records added or deleted between pages shift nothing.
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
    const rest = [...this.#entries]
      .filter(([id, entry]) => (cursor === undefined || id > cursor) && isLive(entry, now))
      .sort(([a], [b]) => (a < b ? -1 : 1));
    const page = rest.slice(0, limit);
    const records = page.map(([, entry]) => this.#output(entry));
    const last = page.at(-1);
    return rest.length > limit && last ? { records, cursor: last[0] } : { records };
  }

  async delete(ref: RecordRef): Promise<boolean> {
    this.#assertOpen();
    return this.#entries.delete(entryId(ref));
  }

  /** Stops the purge timer and drops every record. Calling it again does nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#entries.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /**
   * The in-flight entry that `lease.token` owns. A lapsed lease still counts: only a
   * takeover (or a purge) ends ownership, as the contract requires of `complete`.
   */
  #owned(lease: Lease): { entry: Entry; record: InFlightRecord } | undefined {
    this.#assertOpen();
    const entry = this.#entries.get(entryId(lease));
    const record = entry?.record;
    return entry && record?.state === "in_flight" && record.token === lease.token
      ? { entry, record }
      : undefined;
  }

  /** A copy of the entry's record that the caller may keep and mutate freely. */
  #output({ record, chunks }: Entry): IdempotencyRecord {
    if (record.state === "in_flight") return { ...record };
    const first = record.response.chunkCount > 0 ? chunks[0] : undefined;
    return {
      ...record,
      response: copyResponse(record.response),
      firstChunk: first ? new Uint8Array(first) : new Uint8Array(0),
    };
  }

  #purge(now: number, limit: number): number {
    let deleted = 0;
    for (const [id, entry] of this.#entries) {
      if (deleted >= limit) break;
      if (isLive(entry, now)) continue;
      this.#entries.delete(id);
      deleted += 1;
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

/** The map key: the scope's length up front keeps `("a:b", "c")` and `("a", "b:c")` apart. */
function entryId({ scope, key }: RecordRef): string {
  return `${scope.length}:${scope}:${key}`;
}

/** A deep copy, so that neither the caller's arrays nor ours can be changed from outside. */
function copyResponse(response: StoredResponse): StoredResponse {
  return { ...response, headers: response.headers.map(([name, value]) => [name, value] as const) };
}

/** Live means: an in-flight lease that has not lapsed, or a completed record that has not expired. */
function isLive({ record }: Entry, now: number): boolean {
  return (record.state === "in_flight" ? record.leaseExpiresAt : record.expiresAt) > now;
}
