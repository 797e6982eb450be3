/**
 * The Store contract: the few atomic operations the engine needs from a backend.
 *
 * A record is identified by `(scope, key)` and is either in flight (owned by one
 * execution through a lease and an owner token) or completed (holding the response
 * to replay). Every mutating operation on an in-flight record is fenced by the owner
 * token, so an execution whose lease lapsed and was taken over can never overwrite
 * the newer owner's record.
 *
 * Response bodies are stored as numbered chunks (0 … chunkCount-1) so that large
 * responses never have to sit in memory whole. Small bodies are a single chunk that
 * travels inside {@link IdempotencyStore.complete} and comes back inside
 * {@link IdempotencyStore.claim}, so the common case is one round trip each.
 *
 * Stores keep their own clock for leases and expiry; the engine passes durations.
 *
 * Units: values passed between engine and store carry their unit in their name
 * (`leaseMs`, `ttlMs`: milliseconds; `createdAt`, `expiresAt`: epoch milliseconds). This
 * is the contract third-party stores implement, and a field named `lease` would collide
 * with the {@link Lease} token. The options users write follow the other rule, durations
 * in milliseconds without a suffix (`ttl`, `lease`, `purgeInterval`).
 * A store must not keep references to the byte arrays it is given (it copies or
 * serialises them), and callers must not mutate the arrays a store returns.
 *
 * @module
 */

/** Identifies a record. `scope` isolates credentials/tenants; `key` is the client's idempotency key. */
export interface RecordRef {
  readonly scope: string;
  readonly key: string;
}

/** A record reference plus the owner token that proves who holds the in-flight lease. */
export interface Lease extends RecordRef {
  readonly token: string;
}

/** A stored HTTP response header, as a name/value pair (names in lower case). */
export type HeaderPair = readonly [name: string, value: string];

/** What is kept of a completed response, apart from the body bytes. */
export interface StoredResponse {
  readonly status: number;
  /** Header pairs in the order they were sent; repeated names appear repeatedly. */
  readonly headers: readonly HeaderPair[];
  /** Total body length in bytes (0 when the body was omitted). */
  readonly bodyLength: number;
  /** Number of body chunks stored (0 for an empty or omitted body). */
  readonly chunkCount: number;
  /**
   * True when the body was larger than the size cap and was not stored: the key is
   * still completed (the side effect never runs twice) but a replay has no body.
   */
  readonly bodyOmitted: boolean;
}

/** A record whose first execution is still running (or whose owner died and whose lease has not lapsed yet). */
export interface InFlightRecord extends RecordRef {
  readonly state: "in_flight";
  readonly fingerprint: string;
  readonly token: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds after which another execution may take the key over. */
  readonly leaseExpiresAt: number;
}

/** A record whose response is stored and is replayed to every retry until it expires. */
export interface CompletedRecord extends RecordRef {
  readonly state: "completed";
  readonly fingerprint: string;
  readonly createdAt: number;
  readonly completedAt: number;
  /** Epoch milliseconds after which the key executes anew. */
  readonly expiresAt: number;
  readonly response: StoredResponse;
  /** Body chunk 0 (empty when `chunkCount` is 0); the rest come from {@link IdempotencyStore.readChunk}. */
  readonly firstChunk: Uint8Array;
}

/** A record is either in flight or completed, never a mix of both. */
export type IdempotencyRecord = InFlightRecord | CompletedRecord;

/** Input of {@link IdempotencyStore.claim}. */
export interface ClaimInput extends RecordRef {
  readonly fingerprint: string;
  /** A fresh, unguessable owner token chosen by the caller. */
  readonly token: string;
  /** How long the lease lasts before another execution may take the key over, in milliseconds (the engine's `lease`). */
  readonly leaseMs: number;
}

/** Result of {@link IdempotencyStore.claim}. */
export type ClaimResult =
  /** The caller now owns the key. `tookOver` is true when a lapsed lease or an expired record was replaced. */
  | { readonly outcome: "acquired"; readonly lease: Lease; readonly tookOver: boolean }
  /** Another execution holds a live lease. */
  | { readonly outcome: "in_flight"; readonly record: InFlightRecord }
  /** The key has a live completed record. */
  | { readonly outcome: "completed"; readonly record: CompletedRecord };

/** Input of {@link IdempotencyStore.complete}. */
export interface CompletionInput {
  readonly response: StoredResponse;
  /**
   * Body chunk `chunkCount - 1` (the earlier ones were written with
   * {@link IdempotencyStore.appendChunk}); ignored when `chunkCount` is 0.
   */
  readonly finalChunk: Uint8Array;
  /** How long the completed record lives, in milliseconds (the engine's `ttl`). */
  readonly ttlMs: number;
}

/**
 * The storage backend contract. Implementations must make each method atomic with
 * respect to concurrent callers in any process that shares the backend.
 *
 * Every method returns a promise and reports failure by rejecting it, never by throwing.
 *
 * Run `oncely/testing`'s conformance suite against any implementation.
 */
export interface IdempotencyStore {
  /**
   * Atomically: if no live record exists for `(scope, key)` — none at all, an
   * in-flight record whose lease has lapsed, or a completed record that has
   * expired — create an in-flight record owned by `token` and return `acquired`;
   * otherwise return the live record untouched. Exactly one of any number of
   * concurrent claims of one key is `acquired`.
   */
  claim(input: ClaimInput): Promise<ClaimResult>;

  /**
   * Extend the lease of an in-flight record owned by `lease.token` (also after the lease
   * lapsed, provided nobody took the key over) to `leaseMs` milliseconds from now. False
   * when not the owner any more.
   */
  renew(lease: Lease, leaseMs: number): Promise<boolean>;

  /** Delete an in-flight record owned by `lease.token`, so the key can execute again. False when not the owner. */
  release(lease: Lease): Promise<boolean>;

  /**
   * Store body chunk `index` of an in-flight record owned by `lease.token`
   * (overwriting an earlier chunk with that index). False when not the owner.
   */
  appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean>;

  /**
   * Turn an in-flight record owned by `lease.token` into a completed one, storing the
   * final chunk and discarding any chunk with an index at or above `chunkCount`.
   * Succeeds even after the lease lapsed, provided nobody took the key over.
   * False when not the owner.
   */
  complete(lease: Lease, input: CompletionInput): Promise<boolean>;

  /**
   * The live record for `ref`, or undefined: expired completed records and in-flight
   * records whose lease lapsed count as absent, as they do for {@link claim}.
   */
  get(ref: RecordRef): Promise<IdempotencyRecord | undefined>;

  /** Body chunk `index` of a live completed record, or undefined when there is none. */
  readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined>;

  /**
   * Delete expired completed records and in-flight records whose lease lapsed,
   * at most `limit` of them (all when omitted); returns how many were deleted. A purged
   * lapsed record can no longer be completed by its late owner.
   */
  purgeExpired(limit?: number): Promise<number>;

  /**
   * Release connections, timers and file handles. Every later call rejects with
   * `StoreClosedError` (or fails fast); closing twice is a no-op.
   */
  close(): Promise<void>;
}

/** One page of records from {@link InspectableStore.list}. */
export interface RecordPage {
  readonly records: readonly IdempotencyRecord[];
  /** Pass back to get the next page; absent on the last page. */
  readonly cursor?: string;
}

/**
 * Operations for tooling such as `oncely keys`: listing and deleting records. Not needed
 * by the engine; every built-in store implements them.
 */
export interface InspectableStore extends IdempotencyStore {
  /** Live records (in flight or completed, not expired), in no particular order, a page at a time. */
  list(options?: { readonly limit?: number; readonly cursor?: string }): Promise<RecordPage>;
  /** Deletes a record (in flight or completed) and its body chunks. False when there was none. */
  delete(ref: RecordRef): Promise<boolean>;
}

/** True when `store` offers the {@link InspectableStore} operations. */
export function isInspectable(store: IdempotencyStore): store is InspectableStore {
  const candidate = store as Partial<InspectableStore>;
  return typeof candidate.list === "function" && typeof candidate.delete === "function";
}
