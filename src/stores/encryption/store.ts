/**
 * A store wrapper that encrypts what a record holds of a response — its headers and every
 * body chunk — before the inner store sees it, and decrypts on the way out. Every store gets
 * encryption from this one implementation; the inner store only ever holds ciphertext.
 *
 * Kept in clear, because the stores and the engine work with them: scope (a hash), key,
 * fingerprint (a hash), times, status, body length, chunk count. The status, body length
 * and chunk count are also sealed with the headers, so that changing them in the store is
 * detected.
 * @module
 */
import { DecryptionFailedError } from "../../core/errors.js";
import { SEALED_HEADERS } from "../../core/replay.js";
import type {
  ClaimInput,
  ClaimResult,
  CompletedRecord,
  CompletionInput,
  HeaderPair,
  IdempotencyRecord,
  IdempotencyStore,
  InFlightRecord,
  InspectableStore,
  Lease,
  RecordPage,
  RecordRef,
} from "../../store.js";
import { open, seal } from "./cipher.js";
import type { KeyRing } from "./key-ring.js";

/** What is sealed with the headers. */
interface SealedResponse {
  readonly status: number;
  readonly headers: HeaderPair[];
  readonly bodyLength: number;
  readonly chunkCount: number;
}

/** Wraps any store; see the module comment. */
export class EncryptedStore implements IdempotencyStore {
  protected readonly inner: IdempotencyStore;
  protected readonly ring: KeyRing;
  /** The inner store's own, when it wakes waiters (an in-flight record holds nothing sealed). */
  readonly waitForChange?: (record: InFlightRecord, timeoutMs: number) => Promise<void>;

  constructor(inner: IdempotencyStore, ring: KeyRing) {
    this.inner = inner;
    this.ring = ring;
    if (inner.waitForChange) this.waitForChange = inner.waitForChange.bind(inner);
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const result = await this.inner.claim(input);
    return result.outcome === "completed" ? { ...result, record: this.decrypt(result.record) } : result;
  }

  renew(lease: Lease, leaseMs: number): Promise<boolean> {
    return this.inner.renew(lease, leaseMs);
  }

  release(lease: Lease): Promise<boolean> {
    return this.inner.release(lease);
  }

  appendChunk(lease: Lease, index: number, data: Uint8Array): Promise<boolean> {
    return this.inner.appendChunk(lease, index, seal(this.ring, lease, index, data));
  }

  complete(lease: Lease, { response, finalChunk, ttlMs, fingerprint }: CompletionInput): Promise<boolean> {
    const sealed: SealedResponse = {
      status: response.status,
      headers: [...response.headers],
      bodyLength: response.bodyLength,
      chunkCount: response.chunkCount,
    };
    const headers = seal(this.ring, lease, "headers", Buffer.from(JSON.stringify(sealed)));
    return this.inner.complete(lease, {
      response: { ...response, headers: [[SEALED_HEADERS, headers.toString("base64")]] },
      finalChunk:
        response.chunkCount > 0 ? seal(this.ring, lease, response.chunkCount - 1, finalChunk) : finalChunk,
      ttlMs,
      ...(fingerprint === undefined ? {} : { fingerprint }),
    });
  }

  async get(ref: RecordRef): Promise<IdempotencyRecord | undefined> {
    const record = await this.inner.get(ref);
    return record?.state === "completed" ? this.decrypt(record) : record;
  }

  async readChunk(ref: RecordRef, index: number): Promise<Uint8Array | undefined> {
    const chunk = await this.inner.readChunk(ref, index);
    return chunk && open(this.ring, ref, index, chunk);
  }

  purgeExpired(limit?: number): Promise<number> {
    return this.inner.purgeExpired(limit);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * The record with its headers and first chunk decrypted.
   * @throws {UnknownEncryptionKeyError} | {DecryptionFailedError}
   */
  protected decrypt(record: CompletedRecord): CompletedRecord {
    const { response } = record;
    const [pair, ...others] = response.headers;
    if (pair?.[0] !== SEALED_HEADERS || others.length > 0)
      throw new DecryptionFailedError(record.scope, record.key, "it was stored unencrypted");
    const sealed = JSON.parse(
      open(this.ring, record, "headers", Buffer.from(pair[1], "base64")).toString("utf8"),
    ) as SealedResponse;
    // A store may drop a body too large for it (the memory store's byte cap): then it keeps
    // no chunks and says so; anything else must match what was sealed.
    const bodyDropped = response.bodyOmitted && response.chunkCount === 0 && response.bodyLength === 0;
    if (
      sealed.status !== response.status ||
      (!bodyDropped &&
        (sealed.bodyLength !== response.bodyLength || sealed.chunkCount !== response.chunkCount))
    ) {
      throw new DecryptionFailedError(
        record.scope,
        record.key,
        "its status or body length differ from what was sealed",
      );
    }
    return {
      ...record,
      response: { ...response, headers: sealed.headers },
      firstChunk: response.chunkCount > 0 ? open(this.ring, record, 0, record.firstChunk) : record.firstChunk,
    };
  }
}

/** {@link EncryptedStore} over an inspectable store: listing and deleting pass through. */
export class InspectableEncryptedStore extends EncryptedStore implements InspectableStore {
  declare protected readonly inner: InspectableStore;

  /**
   * Records whose decryption fails are listed as stored (headers sealed), so that tooling
   * can still show and delete them.
   */
  async list(options?: { readonly limit?: number; readonly cursor?: string }): Promise<RecordPage> {
    const page = await this.inner.list(options);
    return {
      ...page,
      records: page.records.map((record) => {
        if (record.state !== "completed") return record;
        try {
          return this.decrypt(record);
        } catch {
          return record;
        }
      }),
    };
  }

  delete(ref: RecordRef): Promise<boolean> {
    return this.inner.delete(ref);
  }
}
