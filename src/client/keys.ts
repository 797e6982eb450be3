/**
 * Idempotency keys that stay the same across retries and restarts.
 *
 * Every key is printable ASCII of at most 128 characters, the server's default limit.
 * Hash-based keys are a short prefix plus 43 characters of SHA-256 in base64url (256 bits),
 * so two different inputs colliding is negligible however many keys a client makes.
 * @module
 */
import { createHash, randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { InvalidOptionError } from "../core/errors.js";

/**
 * What is done with an entity: e.g. `"POST https://api.example/convert?target=jpg"`.
 * Part of every derived key, so the same file sent to two operations gets two keys.
 */
export type Operation = string;

/** Hashes the parts unambiguously: JSON keeps `["a b", "c"]` apart from `["a", "b c"]`. */
function digest(parts: ReadonlyArray<string | number | bigint>): string {
  const canonical = JSON.stringify(parts.map((part) => (typeof part === "bigint" ? part.toString() : part)));
  return createHash("sha256").update(canonical).digest("base64url");
}

/**
 * A key for sending a local file, read from its metadata (the bytes are not read).
 *
 * Two keys differ when any of these differ: the resolved absolute path, the operation, the
 * size, or the modification time in nanoseconds. So a file that is changed, or replaced by
 * another with the same name, gets a new key, and a rerun of an unchanged file gets the old one.
 *
 * @param path the file; resolved against the working directory
 * @param operation what is done with it (`"convert to jpg"` and `"convert to png"` differ)
 * @returns `file_` + 43 base64url characters
 * @throws the `stat` error (e.g. `ENOENT`) when the file cannot be read
 */
export async function fileKey(path: string, operation: Operation): Promise<string> {
  const absolute = resolve(path);
  const info = await stat(absolute, { bigint: true });
  return `file_${digest(["file", absolute, operation, info.size, info.mtimeNs])}`;
}

/**
 * A key for content in memory: the same bytes for the same operation give the same key,
 * wherever they come from. Strings are hashed as UTF-8.
 *
 * Two keys differ when the bytes differ or the operation differs.
 * @returns `content_` + 43 base64url characters
 */
export function contentKey(content: string | Uint8Array, operation: Operation): string {
  const bytes = createHash("sha256").update(content).digest("base64url");
  return `content_${digest(["content", bytes, operation])}`;
}

/** An entry of an object store (S3, GCS, R2, …) at one version. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** The version id, when the bucket is versioned. */
  readonly versionId?: string;
  /** The entity tag; used when there is no version id. */
  readonly etag?: string;
}

/**
 * A key for an object-store entry at one version.
 *
 * Two keys differ when the bucket, the object key, the version id (or, without one, the
 * ETag) or the operation differ. So an overwritten object gets a new key.
 * @returns `object_` + 43 base64url characters
 * @throws InvalidOptionError when neither `versionId` nor `etag` is given: without one, a
 *   changed object would keep its key and its new content would be answered with the old result
 */
export function objectKey(object: ObjectRef, operation: Operation): string {
  const version = object.versionId ?? object.etag;
  if (!version) throw new InvalidOptionError("objectKey needs the object's versionId or etag");
  return `object_${digest(["object", object.bucket, object.key, version, operation])}`;
}

const ACTION = /^[A-Za-z0-9.:-]{1,48}$/;
const PRINTABLE = /^[\x20-\x7e]+$/;
const LONGEST_ENTITY = 48;

/**
 * A readable key for a business operation: `{action}_{entityId}_{timestamp}`, e.g.
 * `charge_order-1842_1735689600000` for "charge order 1842 for the period starting then".
 *
 * Two keys differ when the action, the entity id or the timestamp differ. The timestamp is
 * the caller's (when the operation was decided), never the time of sending, or a retry
 * after a restart would get a new key. An entity id longer than 48 characters is replaced
 * by its SHA-256 (`h` + base64url) so the key still fits 128 characters.
 *
 * @param action letters, digits, `.`, `:` or `-` (no `_`, which separates the parts), 1–48 characters
 * @param entityId printable ASCII
 * @param timestamp a Date or epoch milliseconds
 */
export function operationKey(action: string, entityId: string, timestamp: Date | number): string {
  if (!ACTION.test(action)) {
    throw new InvalidOptionError(`operationKey action "${action}" must be 1-48 of A-Z a-z 0-9 . : -`);
  }
  if (!PRINTABLE.test(entityId))
    throw new InvalidOptionError("operationKey entityId must be printable ASCII");
  const millis = timestamp instanceof Date ? timestamp.getTime() : timestamp;
  if (!Number.isSafeInteger(millis) || millis < 0) {
    throw new InvalidOptionError(
      "operationKey timestamp must be a valid Date or non-negative epoch milliseconds",
    );
  }
  const entity = entityId.length > LONGEST_ENTITY ? `h${digest(["entity", entityId])}` : entityId;
  return `${action}_${entity}_${millis}`;
}

/**
 * A random key (UUID v4, 122 random bits) for a one-off operation with no natural identity.
 * Create it once, before the first attempt, and keep it for every retry: a key made per
 * attempt protects nothing.
 */
export function randomKey(): string {
  return randomUUID();
}
