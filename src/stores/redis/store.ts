import { sha256Base64url } from "../../core/bytes.js";
import {
  CorruptRecordError,
  InvalidOptionError,
  isOncelyError,
  StoreClosedError,
  StoreUnavailableError,
  UnsupportedServerError,
} from "../../core/errors.js";
import { renamedOption } from "../../core/renamed-option.js";
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
import { decodeRecordRow, type RecordRow } from "../record-codec.js";
import { StoreNotifier } from "../store-notifier.js";
import {
  LEGACY_FIELDS,
  legacyClaimScript,
  legacyDeleteScript,
  legacyGetScript,
  legacyReadChunkScript,
  MOVED,
} from "./legacy-scripts.js";
import { globEscape, listRecords } from "./listing.js";
import { completionParts, decodeValue, fenceOf, inFlightValue, isCompletedValue } from "./record-value.js";
import {
  appendChunkScript,
  claimScript,
  completeScript,
  deleteScript,
  getScript,
  readChunkScript,
  releaseScript,
  renewScript,
  watchScript,
} from "./scripts.js";
import { canSubscribe, subscribeOn } from "./subscriber.js";

/**
 * The part of an ioredis `Redis` or `Cluster` instance the store uses. The store
 * registers its scripts on it as commands named `oncely_*`.
 */
export interface RedisClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys: number }): void;
  /** Sends a raw command; `list()` sends SCAN with it. */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** `SET key value PX ms NX GET`, the old value as a Buffer: a claim. */
  setBuffer(
    key: string,
    value: string,
    px: "PX",
    milliseconds: string,
    nx: "NX",
    get: "GET",
  ): Promise<Buffer | null>;
  /** A cluster's master nodes, which `list()` scans one by one. */
  nodes?(role: "master"): RedisClient[];
  /** A new connection with the same settings, on which the store subscribes to wake waiting duplicates. */
  duplicate?(): unknown;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * Prepended to every key the store writes. Must not contain `{` or `}`, which would
   * change the hash tag that keeps a record's keys in one cluster slot.
   * @default "oncely:"
   */
  readonly prefix?: string;
  /**
   * How long an in-flight record is kept after its lease lapses: while it is kept, the
   * owner can still complete it (unless another execution took the key over); after
   * that Redis deletes it, so a crashed owner leaves nothing behind.
   * @default 3_600_000 (one hour)
   */
  readonly leaseGrace?: number;
  /** @deprecated use `leaseGrace` (same value, in milliseconds) */
  readonly leaseGraceMs?: number;
  /**
   * Whether duplicates that `wait` for an in-flight key are woken by pub/sub: the store
   * opens one subscriber connection (the client's `duplicate()`), on the first wait, for
   * all its waiters, and a completion or release that somebody waits for is published to
   * `<prefix>changes`. Off, waiters poll: one claim per waiter every 20 to 250 ms.
   * @default true
   */
  readonly notifications?: boolean;
}

type Script = (...args: (string | Buffer)[]) => Promise<unknown>;

const scriptSources = {
  claim: claimScript,
  renew: renewScript,
  release: releaseScript,
  appendChunk: appendChunkScript,
  complete: completeScript,
  get: getScript,
  readChunk: readChunkScript,
  delete: deleteScript,
  watch: watchScript,
  legacyClaim: legacyClaimScript,
  legacyGet: legacyGetScript,
  legacyReadChunk: legacyReadChunkScript,
  legacyDelete: legacyDeleteScript,
};

type Operation = keyof typeof scriptSources;

/** The script that does an operation's work on a record of the first version's layout. */
const LEGACY_OPERATIONS = { get: "legacyGet", readChunk: "legacyReadChunk", delete: "legacyDelete" } as const;

/** The two keys every script receives: the record and the chunk key prefix. */
type RecordKeys = readonly [record: string, chunkPrefix: string];

/**
 * An {@link InspectableStore} on Redis or Valkey 7.0 or later, standalone or Cluster. A
 * claim that acquires a key or finds it completed is one native `SET … NX GET` (one that
 * meets a key in flight adds a script, to ask Redis's clock about the lease); every other
 * operation is one Lua script, so one atomic round trip.
 *
 * Each record is one string key plus one string key per stored body chunk, all under one
 * hash tag (a digest of scope and key). Redis expiry deletes completed records after
 * their TTL and abandoned in-flight records after lease plus
 * {@link RedisStoreOptions.leaseGrace}; leases end on the Redis server's clock.
 *
 * Create one with `createRedisStore`, or `createStore("redis://…")`.
 */
export class RedisStore implements InspectableStore {
  readonly #client: RedisClient;
  readonly #scripts: Record<Operation, Script>;
  readonly #prefix: string;
  readonly #leaseGrace: number;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #notifier: StoreNotifier | undefined;
  #closed = false;

  /**
   * @param client an ioredis `Redis` or `Cluster` instance, connected or connecting
   * @param onClose run by `close()`; `createRedisStore` passes one that closes a client it opened
   */
  constructor(client: RedisClient, options: RedisStoreOptions = {}, onClose?: () => Promise<void>) {
    const { prefix, leaseGrace, notifications } = resolveStoreOptions(options);
    this.#client = client;
    this.#scripts = defineScripts(client);
    this.#prefix = prefix;
    this.#leaseGrace = Math.ceil(leaseGrace);
    this.#onClose = onClose;
    if (notifications && canSubscribe(client)) {
      const notifier = new StoreNotifier({
        subscribe: (events) => subscribeOn(client, `${prefix}changes`, events),
        watch: async (record) => (await this.#run("watch", record, [fenceOf(record)])) === 1,
        idOf: hashTag,
      });
      this.#notifier = notifier;
      this.waitForChange = (record, timeoutMs) => notifier.wait(record, timeoutMs);
    }
  }

  /**
   * Present when the store subscribes for notifications (unless `notifications: false`, or
   * the client has no `duplicate()`): resolves when the record's completion or release is
   * published, from any process, or after `timeoutMs`. See `IdempotencyStore.waitForChange`.
   */
  readonly waitForChange?: (record: InFlightRecord, timeoutMs: number) => Promise<void>;

  /** How many duplicates wait in {@link waitForChange} now (0 without notifications). */
  get waiting(): number {
    return this.#notifier?.size ?? 0;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const lease = milliseconds(input.leaseMs, 0);
    // PX 0 is refused.
    const life = String(Math.max(1, Number(lease) + this.#leaseGrace));
    const value = inFlightValue(input, this.#leaseGrace, Date.now());
    const keys = this.#keysOf(input);
    const { reply, legacy } = await this.#withLegacy(
      "claim",
      () => this.#client.setBuffer(keys[0], value, "PX", life, "NX", "GET").catch(refuseOldServer),
      () => this.#scripts.legacyClaim(...keys, value, life),
      input,
    );
    if (legacy) return this.#claimReply(input, reply, true);
    if (reply === null) return this.#acquired(input, false);
    if (Buffer.isBuffer(reply) && isCompletedValue(reply)) return this.#claimReply(input, [reply], false);
    // A client that sends the SET again after a reconnect finds the record it made: its fence.
    if (Buffer.isBuffer(reply) && startsWith(reply, fenceOf(input))) return this.#acquired(input, false);
    // Only the server's clock can tell whether the lease of the record found lapsed.
    return this.#claimReply(input, await this.#call("claim", keys, [value, life], input), false);
  }

  async renew(lease: Lease, leaseMs: number): Promise<boolean> {
    return (await this.#run("renew", lease, [fenceOf(lease), milliseconds(leaseMs, 0)])) === 1;
  }

  async release(lease: Lease): Promise<boolean> {
    return (await this.#run("release", lease, [fenceOf(lease)])) === 1;
  }

  async appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    if (!isChunkIndex(index)) {
      throw new RangeError(`chunk index must be a non-negative integer, got ${index}`);
    }
    return (await this.#run("appendChunk", lease, [fenceOf(lease), String(index), toBuffer(data)])) === 1;
  }

  async complete(lease: Lease, input: CompletionInput): Promise<boolean> {
    const { response } = input;
    const args = [
      fenceOf(lease),
      String(response.chunkCount),
      // PEXPIRE 0 would delete the record before anyone could see it completed.
      milliseconds(input.ttlMs, 1),
      toBuffer(response.chunkCount > 0 ? input.finalChunk : new Uint8Array(0)),
      ...completionParts(lease, input, Date.now()),
    ];
    if (input.fingerprint !== undefined) args.push(input.fingerprint);
    return (await this.#run("complete", lease, args)) === 1;
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    return this.#read(this.#keysOf(ref), ref);
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    if (!isChunkIndex(index)) return undefined;
    if (index === 0) {
      const record = await this.get(ref);
      return record?.state === "completed" && record.response.chunkCount > 0 ? record.firstChunk : undefined;
    }
    const { reply } = await this.#readScript("readChunk", this.#keysOf(ref), [String(index)], ref);
    return Buffer.isBuffer(reply) ? toBytes(reply) : undefined;
  }

  /**
   * Always 0: every record key carries a Redis expiry (completed records their TTL,
   * in-flight records lease plus `leaseGrace`), so Redis deletes them by itself.
   */
  async purgeExpired(_limit?: number): Promise<number> {
    if (this.#closed) throw new StoreClosedError();
    return 0;
  }

  /**
   * Live records a page at a time, in no particular order, found with SCAN.
   * @param [options.limit=100] the most records on one page
   */
  async list({
    limit = DEFAULT_PAGE_LIMIT,
    cursor,
  }: {
    readonly limit?: number;
    readonly cursor?: string;
  } = {}): Promise<RecordPage> {
    if (this.#closed) throw new StoreClosedError();
    checkPageLimit(limit);
    const pattern = `${globEscape(this.#prefix)}{*}:r`;
    const read = (recordKey: string) => this.#read([recordKey, `${recordKey.slice(0, -1)}c:`], undefined);
    try {
      return await listRecords(this.#client, pattern, { limit, cursor }, read);
    } catch (error) {
      throw storeError("list", { scope: "", key: "" }, error);
    }
  }

  async delete(ref: RecordRef): Promise<boolean> {
    return (await this.#readScript("delete", this.#keysOf(ref), [], ref)).reply === 1;
  }

  /** Closes the connection if the store opened it; a client passed in stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#notifier?.close();
    await this.#onClose?.();
  }

  /** The live record under `keys`; without `ref` (listing), scope and key come from the record. */
  async #read(keys: RecordKeys, ref: RecordRef | undefined): Promise<IdempotencyRecord | undefined> {
    const owner = ref ?? { scope: "", key: keys[0] };
    const { reply, legacy } = await this.#readScript("get", keys, [], owner);
    if (!Array.isArray(reply) || reply.length === 0) return undefined;
    return legacy ? decodeLegacy(ref, reply) : decodeRecord(ref, reply);
  }

  #claimReply(input: ClaimInput, reply: unknown, legacy: boolean): ClaimResult {
    if (typeof reply === "number") return this.#acquired(input, reply === 1);
    const values = Array.isArray(reply) ? reply : [];
    const record = legacy ? decodeLegacy(input, values) : decodeRecord(input, values);
    return record.state === "in_flight" ? { outcome: "in_flight", record } : { outcome: "completed", record };
  }

  #acquired(input: ClaimInput, tookOver: boolean): ClaimResult {
    return {
      outcome: "acquired",
      lease: { scope: input.scope, key: input.key, token: input.token },
      tookOver,
    };
  }

  /**
   * Sends `first`, or `legacy` when the record is a hash of the first version's layout
   * (`first` then fails with WRONGTYPE); a failure of either is reported as `operation`'s.
   */
  async #withLegacy(
    operation: Operation,
    first: () => Promise<unknown>,
    legacy: () => Promise<unknown>,
    ref: RecordRef,
  ): Promise<{ reply: unknown; legacy: boolean }> {
    if (this.#closed) throw new StoreClosedError();
    try {
      return { reply: await first(), legacy: false };
    } catch (error) {
      if (!isWrongType(error)) throw storeError(operation, ref, error);
    }
    try {
      const reply = await legacy();
      // The hash expired or was replaced meanwhile: what is there now is the current layout.
      if (isMoved(reply)) return { reply: await first(), legacy: false };
      return { reply, legacy: true };
    } catch (error) {
      throw storeError(operation, ref, error);
    }
  }

  /** Runs script `operation`, or its counterpart for a record of the first version's layout. */
  #readScript(
    operation: "get" | "readChunk" | "delete",
    keys: RecordKeys,
    args: string[],
    ref: RecordRef,
  ): Promise<{ reply: unknown; legacy: boolean }> {
    const legacy = LEGACY_OPERATIONS[operation];
    return this.#withLegacy(
      operation,
      () => this.#scripts[operation](...keys, ...args),
      () => this.#scripts[legacy](...keys, ...args),
      ref,
    );
  }

  #keysOf(ref: RecordRef): RecordKeys {
    const base = `${this.#prefix}{${hashTag(ref)}}:`;
    return [`${base}r`, `${base}c:`];
  }

  #run(operation: Operation, ref: RecordRef, args: (string | Buffer)[]): Promise<unknown> {
    return this.#call(operation, this.#keysOf(ref), args, ref);
  }

  async #call(operation: Operation, keys: RecordKeys, args: (string | Buffer)[], ref: RecordRef) {
    if (this.#closed) throw new StoreClosedError();
    try {
      return await this.#scripts[operation](...keys, ...args);
    } catch (error) {
      throw storeError(operation, ref, error);
    }
  }
}

/**
 * Applies the defaults, resolves the deprecated option names and checks the options.
 * @throws {InvalidOptionError} when an option is invalid, or given under both its names
 */
export function resolveStoreOptions(
  options: RedisStoreOptions,
): Required<Omit<RedisStoreOptions, "leaseGraceMs">> {
  const { prefix = "oncely:", notifications = true } = options;
  const leaseGrace = renamedOption(options, "leaseGrace", "leaseGraceMs") ?? 3_600_000;
  if (/[{}]/.test(prefix)) throw new InvalidOptionError("Redis store prefix must not contain { or }");
  if (!Number.isFinite(leaseGrace) || leaseGrace < 0) {
    throw new InvalidOptionError(`Redis store leaseGrace must be a non-negative number, got ${leaseGrace}`);
  }
  return { prefix, leaseGrace, notifications };
}

/**
 * The hash tag of a record's keys, which keeps them in one cluster slot, and the message
 * that announces its change. A digest, because braces or other characters in scope and
 * key must not change where the tag ends; the scope is length-prefixed so that no other
 * (scope, key) pair hashes the same input.
 */
function hashTag(ref: RecordRef): string {
  // One digest of one string: a Hash object fed twice costs more, and every claim and
  // completion makes a tag.
  return sha256Base64url(`${Buffer.byteLength(ref.scope)}:${ref.scope}${ref.key}`).slice(0, 22);
}

function defineScripts(client: RedisClient): Record<Operation, Script> {
  const scripts = {} as Record<Operation, Script>;
  for (const [name, lua] of Object.entries(scriptSources) as [Operation, string][]) {
    const command = `oncely_${name}`;
    client.defineCommand(command, { lua, numberOfKeys: 2 });
    // ioredis adds the command and a `…Buffer` variant, which returns bulk replies as
    // Buffers (body chunks are binary). It sends EVALSHA, and EVAL the first time a
    // connection runs the script.
    const method: unknown = Reflect.get(client, `${command}Buffer`);
    if (typeof method !== "function" || typeof client.setBuffer !== "function") {
      throw new InvalidOptionError("the Redis client must be an ioredis Redis or Cluster instance");
    }
    scripts[name] = (...args) => method.apply(client, args);
  }
  return scripts;
}

/**
 * Before Redis 7.0, SET refuses NX together with GET. A store on a client of the caller's
 * own finds out only at its first claim; `connectRedis` checks the version up front.
 */
function refuseOldServer(error: unknown): never {
  if (error instanceof Error && /\bsyntax error\b/i.test(error.message)) {
    throw new UnsupportedServerError(
      "Redis refused a claim (SET … NX GET): the Redis store needs 7.0 or later",
      undefined,
      { cause: error },
    );
  }
  throw error;
}

function storeError(operation: string, ref: RecordRef, error: unknown): Error {
  // Decoding and argument errors are already ours.
  if (isOncelyError(error)) return error;
  // A Redis key of the wrong type can only come from someone else writing there.
  if (error instanceof Error && error.message.includes("WRONGTYPE")) {
    return new CorruptRecordError(ref.scope, ref.key, "a Redis key of the record has the wrong type", {
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`Redis store ${operation} failed: ${reason}`, { cause: error });
}

/**
 * A record from a reply of the current layout: `{value}`, or `{value, lease_end}` for an
 * in-flight record.
 */
function decodeRecord(ref: RecordRef | undefined, values: readonly unknown[]): IdempotencyRecord {
  const [value, leaseEnd] = values;
  if (!Buffer.isBuffer(value)) {
    throw new CorruptRecordError(ref?.scope ?? "", ref?.key ?? "", "the record value is missing");
  }
  const decoded = decodeValue(ref, value, leaseEnd === undefined ? undefined : String(leaseEnd));
  return decodeRecordRow(decoded.ref, decoded.row, decoded.firstChunk);
}

/** A record from the fields of a first-version hash, in {@link LEGACY_FIELDS} order. */
function decodeLegacy(ref: RecordRef | undefined, values: readonly unknown[]): IdempotencyRecord {
  const row: Record<string, unknown> = {};
  for (const [index, name] of LEGACY_FIELDS.entries()) {
    const value = values[index];
    if (name !== "chunk0") row[name] = Buffer.isBuffer(value) ? value.toString() : (value ?? undefined);
  }
  const { scope, key } = row;
  if (!ref && (typeof scope !== "string" || typeof key !== "string")) {
    throw new CorruptRecordError(String(scope ?? ""), String(key ?? ""), "scope or key is missing");
  }
  const owner = ref ?? { scope: scope as string, key: key as string };
  return decodeRecordRow(
    owner,
    row as unknown as RecordRow,
    chunkOf(values[LEGACY_FIELDS.indexOf("chunk0")]),
  );
}

function startsWith(bytes: Buffer, prefix: string): boolean {
  const expected = Buffer.from(prefix);
  return bytes.subarray(0, expected.length).equals(expected);
}

function isMoved(reply: unknown): boolean {
  return Array.isArray(reply) && reply.length === 1 && String(reply[0]) === MOVED;
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.includes("WRONGTYPE");
}

function chunkOf(value: unknown): Uint8Array | undefined {
  return Buffer.isBuffer(value) ? toBytes(value) : undefined;
}

function milliseconds(value: number, minimum: number): string {
  if (!Number.isFinite(value))
    throw new RangeError(`a duration must be a finite number of milliseconds, got ${value}`);
  return String(Math.max(minimum, Math.ceil(value)));
}

function isChunkIndex(index: number): boolean {
  return Number.isSafeInteger(index) && index >= 0;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view, so callers comparing with node:assert see the type they expect. */
function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
