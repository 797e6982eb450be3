/**
 * The in-memory store: records live in `Map`s of this process, within bounds on their
 * number and size. Nothing survives a restart and nothing is shared with other processes,
 * so it suits tests, development and single-instance services that accept losing their
 * keys on restart.
 *
 * @module
 */

import { InvalidOptionError, InvalidStoreUrlError, StoreClosedError } from "../../core/errors.js";
import type {
  ClaimInput,
  ClaimResult,
  CompletedRecord,
  CompletionInput,
  HeaderPair,
  IdempotencyRecord,
  InFlightRecord,
  InspectableStore,
  Lease,
  RecordPage,
  RecordRef,
} from "../../store.js";
import { checkPageLimit, DEFAULT_PAGE_LIMIT } from "../paging.js";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * How often expired records are deleted in the background. Expiry is also checked
   * on every access, so this only frees memory sooner; `0` turns the timer off. The timer
   * is unref'd: it never keeps the process alive.
   * @default 60_000
   */
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
  purgeIntervalMs: 60_000,
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
} as const satisfies Required<MemoryStoreOptions>;

/** What each record is counted as besides its bytes and text: the objects that hold it. */
export const RECORD_OVERHEAD_BYTES = 256;

/** An in-flight record as kept: what its claim said, and the body chunks appended so far, by index. */
interface InFlightEntry {
  readonly record: InFlightRecord;
  readonly chunks: Map<number, Uint8Array>;
  /** Counted against `maxBytes`. */
  bytes: number;
}

/** A completed record as kept: the record (with body chunk 0) and chunks 1 … chunkCount-1. */
interface CompletedEntry {
  readonly record: CompletedRecord;
  readonly laterChunks: readonly (Uint8Array | undefined)[];
  readonly bytes: number;
}

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
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param [options.purgeIntervalMs=60000] see {@link MemoryStoreOptions.purgeIntervalMs}
   * @param [options.maxEntries=100000] see {@link MemoryStoreOptions.maxEntries}
   * @param [options.maxBytes=67108864] see {@link MemoryStoreOptions.maxBytes}
   * @throws {InvalidOptionError} when an option is not a number in its range
   */
  constructor({
    purgeIntervalMs = MEMORY_STORE_DEFAULTS.purgeIntervalMs,
    maxEntries = MEMORY_STORE_DEFAULTS.maxEntries,
    maxBytes = MEMORY_STORE_DEFAULTS.maxBytes,
  }: MemoryStoreOptions = {}) {
    if (!Number.isFinite(purgeIntervalMs) || purgeIntervalMs < 0) {
      throw new InvalidOptionError(`purgeIntervalMs must be a non-negative number, got ${purgeIntervalMs}`);
    }
    for (const [name, value] of Object.entries({ maxEntries, maxBytes })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`);
      }
    }
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    if (purgeIntervalMs > 0) {
      this.#timer = setInterval(() => this.#purge(Date.now(), Number.POSITIVE_INFINITY), purgeIntervalMs);
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
    if (completed && completed.record.expiresAt > now) {
      // Replayed: now the most recently used.
      this.#completed.delete(id);
      this.#completed.set(id, completed);
      return { outcome: "completed", record: completedCopy(completed.record) };
    }
    const inFlight = this.#inFlight.get(id);
    if (inFlight && inFlight.record.leaseExpiresAt > now) {
      return { outcome: "in_flight", record: { ...inFlight.record } };
    }
    const tookOver = this.#remove(id);
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
    const bytes = RECORD_OVERHEAD_BYTES + textBytes(record);
    this.#inFlight.set(id, { record, chunks: new Map(), bytes });
    this.#bytes += bytes;
    this.#evict();
    return { outcome: "acquired", lease: { scope, key, token }, tookOver };
  }

  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    this.#inFlight.set(recordId(lease), {
      ...entry,
      record: { ...entry.record, leaseExpiresAt: Date.now() + leaseMs },
    });
    return true;
  }

  async release(lease: Lease): Promise<boolean> {
    return this.#owned(lease) !== undefined && this.#remove(recordId(lease));
  }

  async appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    const entry = this.#owned(lease);
    if (!entry) return false;
    const change = data.byteLength - (entry.chunks.get(index)?.byteLength ?? 0);
    entry.chunks.set(index, new Uint8Array(data));
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
    const chunks: Array<Uint8Array | undefined> = [];
    for (let index = 0; index < chunkCount - 1; index++) chunks.push(entry.chunks.get(index));
    if (chunkCount > 0) chunks.push(new Uint8Array(finalChunk));
    const headers = response.headers.map(([name, value]): HeaderPair => [name, value]);
    const record: CompletedRecord = {
      ...lease,
      state: "completed",
      fingerprint: entry.record.fingerprint,
      createdAt: entry.record.createdAt,
      completedAt: now,
      expiresAt: now + ttlMs,
      response: { ...response, headers },
      firstChunk: chunks[0] ?? new Uint8Array(0),
    };
    this.#remove(id);
    this.#keep(id, record, chunks);
    this.#evict();
    return true;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    this.#assertOpen();
    return this.#live(recordId(ref), Date.now());
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const entry = this.#completed.get(recordId(ref));
    if (!entry || entry.record.expiresAt <= Date.now()) return undefined;
    // Only the record's own chunks: an index outside them never reaches the array.
    if (!Number.isInteger(index) || index < 0 || index >= entry.record.response.chunkCount) return undefined;
    if (index === 0) return new Uint8Array(entry.record.firstChunk);
    const chunk = entry.laterChunks[index - 1];
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
      const record = cursor === undefined || id > cursor ? this.#live(id, now) : undefined;
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

  /** A copy of the live record `id`, or undefined. */
  #live(id: string, now: number): IdempotencyRecord | undefined {
    const completed = this.#completed.get(id);
    if (completed) return completed.record.expiresAt > now ? completedCopy(completed.record) : undefined;
    const inFlight = this.#inFlight.get(id)?.record;
    return inFlight && inFlight.leaseExpiresAt > now ? { ...inFlight } : undefined;
  }

  /**
   * Keeps a completed record as the most recently used; without its body when the body
   * alone would break `maxBytes`.
   */
  #keep(id: string, record: CompletedRecord, chunks: readonly (Uint8Array | undefined)[]): void {
    const withoutBody = RECORD_OVERHEAD_BYTES + textBytes(record);
    const bodyBytes = chunks.reduce((sum, chunk) => sum + (chunk?.byteLength ?? 0), 0);
    if (withoutBody + bodyBytes > this.#maxBytes) {
      const response = { ...record.response, bodyLength: 0, chunkCount: 0, bodyOmitted: true };
      const bodiless = { ...record, response, firstChunk: new Uint8Array(0) };
      this.#completed.set(id, { record: bodiless, laterChunks: [], bytes: withoutBody });
      this.#bytes += withoutBody;
      return;
    }
    this.#completed.set(id, { record, laterChunks: chunks.slice(1), bytes: withoutBody + bodyBytes });
    this.#bytes += withoutBody + bodyBytes;
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
    for (const id of this.#completed.keys()) {
      if (this.#inFlight.size + this.#completed.size <= this.#maxEntries && this.#bytes <= this.#maxBytes)
        return;
      this.#remove(id);
    }
  }

  /**
   * The in-flight entry that `lease.token` owns. A lapsed lease still counts: only a
   * takeover (or a purge) ends ownership, as the contract requires of `complete`.
   */
  #owned(lease: Lease): InFlightEntry | undefined {
    this.#assertOpen();
    const entry = this.#inFlight.get(recordId(lease));
    return entry?.record.token === lease.token ? entry : undefined;
  }

  /** Deletes up to `limit` expired completed records and lapsed in-flight ones. */
  #purge(now: number, limit: number): number {
    let deleted = 0;
    for (const [id, { record }] of [...this.#inFlight, ...this.#completed]) {
      if (deleted >= limit) break;
      const end = record.state === "in_flight" ? record.leaseExpiresAt : record.expiresAt;
      if (end <= now && this.#remove(id)) deleted += 1;
    }
    return deleted;
  }
}

/**
 * Creates an in-memory store.
 *
 * @param [options.purgeIntervalMs=60000] how often expired records are swept; `0` turns the sweep off
 * @param [options.maxEntries=100000] the most records kept
 * @param [options.maxBytes=67108864] about the most bytes the records take
 * @example
 * const store = createMemoryStore({ maxEntries: 10_000 });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}

/** The options a `memory:` URL may set in its query string. */
const URL_OPTIONS = ["maxEntries", "maxBytes", "purgeIntervalMs"] as const;

/**
 * Creates an in-memory store from the URL `memory:`, optionally with bounds in its query
 * string: `memory:?maxEntries=10000&maxBytes=16777216`.
 * @throws {InvalidStoreUrlError} for another scheme, a path, or an unknown or non-integer parameter
 * @throws {InvalidOptionError} when a bound is out of range
 */
export function memoryStoreFromUrl(url: string): MemoryStore {
  const usage = `use memory: or memory:?${URL_OPTIONS.map((name) => `${name}=N`).join("&")}`;
  // The URL is not echoed: whatever follows the scheme might be a secret pasted by mistake.
  const match = /^memory:(?:\?(.*))?$/is.exec(url);
  if (!match) throw new InvalidStoreUrlError(`invalid memory store URL: ${usage}`);
  const options: MemoryStoreOptions = {};
  for (const [name, value] of new URLSearchParams(match[1] ?? "")) {
    const option = URL_OPTIONS.find((known) => known === name);
    if (!option)
      throw new InvalidStoreUrlError(`unknown memory store URL parameter ${JSON.stringify(name)}: ${usage}`);
    if (!/^\d+$/.test(value)) {
      throw new InvalidStoreUrlError(`memory store URL parameter ${name} must be a whole number`);
    }
    options[option] = Number(value);
  }
  return new MemoryStore(options);
}

/** A record's map key, listing order and cursor: the scope's length up front keeps `("a:b", "c")` and `("a", "b:c")` apart. */
function recordId({ scope, key }: RecordRef): string {
  return `${scope.length}:${scope}:${key}`;
}

/** The text a record holds, counted as one byte a character. */
function textBytes(record: IdempotencyRecord): number {
  let bytes = record.scope.length + record.key.length + record.fingerprint.length;
  if (record.state === "in_flight") return bytes + record.token.length;
  for (const [name, value] of record.response.headers) bytes += name.length + value.length;
  return bytes;
}

/** A completed record the caller may keep and change freely. */
function completedCopy(record: CompletedRecord): CompletedRecord {
  return {
    ...record,
    response: {
      ...record.response,
      headers: record.response.headers.map(([name, value]): HeaderPair => [name, value]),
    },
    firstChunk: new Uint8Array(record.firstChunk),
  };
}
