import { type IdempotencyStore, isInspectable } from "../store.js";

/** One operator key. */
export interface EncryptionKey {
  /** Stored with every ciphertext, so that the right key decrypts it after a rotation: 1 to 32 of `A-Z a-z 0-9 . _ -`. */
  readonly id: string;
  /** 32 random bytes, or their base64 text (`openssl rand -base64 32`). */
  readonly key: Uint8Array | string;
}

/** Encryption at rest of stored responses (AES-256-GCM). */
export interface EncryptionOptions {
  /**
   * The first key encrypts new records; every key decrypts. To rotate, put a new key first
   * and keep the old ones until the records written under them have expired (`ttl`).
   */
  readonly keys: readonly EncryptionKey[];
}

/**
 * Wraps `store` so that it holds stored responses' headers and body bytes encrypted with
 * AES-256-GCM (see docs/stores.md, "Encryption at rest"). `createStore(url, { encryption })`
 * does this for you; use it directly for a store you built yourself.
 *
 * A record that cannot be decrypted makes the store operation fail with
 * `UnknownEncryptionKeyError` or `DecryptionFailedError`, which the engine answers like any
 * store failure (`onStoreError`).
 * @throws {InvalidOptionError} when a key is not 32 bytes, or an id is bad or repeated
 * @example
 * const store = await encryptStore(createMemoryStore(), { keys: [{ id: "2026-12", key: process.env.KEY! }] });
 */
export async function encryptStore(
  store: IdempotencyStore,
  encryption: EncryptionOptions,
): Promise<IdempotencyStore> {
  // Loaded on demand: node:crypto must stay out of the entry that the fetch layer runs on.
  const [{ keyRing }, { EncryptedStore, InspectableEncryptedStore }] = await Promise.all([
    import("./encryption/key-ring.js"),
    import("./encryption/store.js"),
  ]);
  const ring = keyRing(encryption);
  return isInspectable(store) ? new InspectableEncryptedStore(store, ring) : new EncryptedStore(store, ring);
}
