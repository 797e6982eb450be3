/**
 * The operator's encryption keys, checked once: the first encrypts new records, every one
 * decrypts. Key material never appears in a message, only key ids and lengths.
 * @module
 */
import { InvalidOptionError } from "../../core/errors.js";
import type { EncryptionKey, EncryptionOptions } from "../encrypt-store.js";

/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;

/** Key ids are short and plain, because each ciphertext carries one. */
const KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;

/** The checked keys: `current` encrypts, `byId` decrypts. */
export interface KeyRing {
  readonly current: { readonly id: string; readonly key: Uint8Array };
  readonly byId: ReadonlyMap<string, Uint8Array>;
}

/** Checks `options.keys`; throws {@link InvalidOptionError} naming the key id, never its material. */
export function keyRing(options: EncryptionOptions): KeyRing {
  const keys: unknown = options?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new InvalidOptionError("options.encryption.keys must be a non-empty array of { id, key }");
  }
  const byId = new Map<string, Uint8Array>();
  for (const [index, entry] of (keys as EncryptionKey[]).entries()) {
    const id: unknown = entry?.id;
    if (typeof id !== "string" || !KEY_ID.test(id)) {
      throw new InvalidOptionError(
        `options.encryption.keys[${index}].id must be 1 to 32 letters, digits, ".", "_" or "-"`,
      );
    }
    if (byId.has(id)) throw new InvalidOptionError(`options.encryption.keys: key id "${id}" appears twice`);
    byId.set(id, keyBytes(id, entry.key));
  }
  const [first] = keys as [EncryptionKey];
  return { current: { id: first.id, key: byId.get(first.id) as Uint8Array }, byId };
}

/** The key's 32 bytes, from bytes or from base64 text. */
function keyBytes(id: string, key: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (key instanceof Uint8Array) bytes = new Uint8Array(key);
  else if (typeof key === "string" && /^[A-Za-z0-9+/_-]+={0,2}$/.test(key.trim()))
    bytes = new Uint8Array(Buffer.from(key.trim(), "base64"));
  else
    throw new InvalidOptionError(
      `options.encryption key "${id}" must be 32 bytes, as a Uint8Array or as base64 text`,
    );
  if (bytes.length !== KEY_BYTES) {
    throw new InvalidOptionError(
      `options.encryption key "${id}" is ${bytes.length} bytes; AES-256 needs exactly ${KEY_BYTES} (make one with: openssl rand -base64 32)`,
    );
  }
  return bytes;
}
