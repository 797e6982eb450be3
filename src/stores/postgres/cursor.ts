/**
 * The cursor of `PostgresStore.list`: the last record of a page, as base64url JSON so
 * that it travels in URLs and shells unchanged.
 *
 * @module
 */
import { InvalidOptionError } from "../../core/errors.js";
import type { RecordRef } from "../../store.js";

export function encodeCursor({ scope, key }: RecordRef): string {
  return Buffer.from(JSON.stringify([scope, key])).toString("base64url");
}

/** @throws {InvalidOptionError} when `cursor` was not made by {@link encodeCursor} */
export function decodeCursor(cursor: string): RecordRef {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {
    parsed = undefined;
  }
  const [scope, key]: unknown[] = Array.isArray(parsed) && parsed.length === 2 ? parsed : [];
  if (typeof scope !== "string" || typeof key !== "string") {
    throw new InvalidOptionError("cursor was not returned by this store's list()");
  }
  return { scope, key };
}
