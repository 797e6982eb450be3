/**
 * AES-256-GCM envelopes. Each is its own message with a fresh random 96-bit IV:
 *
 *     version (1 byte, 1) | key id length (1 byte) | key id | IV (12) | ciphertext | tag (16)
 *
 * The associated data binds an envelope to its record's scope and key and to its place in
 * the record (the headers, or body chunk N), so an envelope copied to another record, scope
 * or chunk position fails authentication instead of replaying there.
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptionFailedError, UnknownEncryptionKeyError } from "../../core/errors.js";
import type { RecordRef } from "../../store.js";
import type { KeyRing } from "./key-ring.js";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where an envelope sits in its record: the headers, or a body chunk by index. */
export type Part = "headers" | number;

/** Encrypts `plaintext` under the ring's current key for `part` of the record `ref`. */
export function seal(ring: KeyRing, ref: RecordRef, part: Part, plaintext: Uint8Array): Buffer {
  const { id, key } = ring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(associatedData(ref, part));
  const head = Buffer.alloc(2 + id.length);
  head[0] = VERSION;
  head[1] = id.length;
  head.write(id, 2, "latin1");
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  return Buffer.concat([head, iv, body, rest, cipher.getAuthTag()]);
}

/**
 * Decrypts an envelope made by {@link seal} for `part` of `ref`.
 * @throws {UnknownEncryptionKeyError} when its key id is not in the ring
 * @throws {DecryptionFailedError} when it is malformed or fails authentication
 */
export function open(ring: KeyRing, ref: RecordRef, part: Part, envelope: Uint8Array): Buffer {
  const bytes = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const idLength = bytes[1] ?? 0;
  const ivStart = 2 + idLength;
  const tagStart = bytes.length - TAG_BYTES;
  if (bytes[0] !== VERSION || idLength === 0 || tagStart < ivStart + IV_BYTES) {
    throw new DecryptionFailedError(ref.scope, ref.key, `${describe(part)} is not an oncely envelope`);
  }
  const id = bytes.toString("latin1", 2, ivStart);
  const key = ring.byId.get(id);
  if (!key) throw new UnknownEncryptionKeyError(ref.scope, ref.key, id);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(ivStart, ivStart + IV_BYTES));
    decipher.setAAD(associatedData(ref, part));
    decipher.setAuthTag(bytes.subarray(tagStart));
    const body = decipher.update(bytes.subarray(ivStart + IV_BYTES, tagStart));
    const rest = decipher.final();
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch (error) {
    throw new DecryptionFailedError(
      ref.scope,
      ref.key,
      `${describe(part)} fails authentication under key id "${id}" (altered, moved from another record, or other key material)`,
      { cause: error },
    );
  }
}

/** Scope, key and part, each length-prefixed so that no two distinct triples encode alike. */
function associatedData(ref: RecordRef, part: Part): Buffer {
  const fields = [ref.scope, ref.key, typeof part === "number" ? `chunk ${part}` : part];
  const encoded = fields.map((field) => Buffer.from(field, "utf8"));
  const out = Buffer.alloc(9 + encoded.reduce((sum, field) => sum + 4 + field.length, 0));
  let offset = out.write("oncely/1\0", 0, "latin1");
  for (const field of encoded) {
    offset = out.writeUInt32BE(field.length, offset);
    offset += field.copy(out, offset);
  }
  return out;
}

function describe(part: Part): string {
  return typeof part === "number" ? `body chunk ${part}` : "the response headers";
}
