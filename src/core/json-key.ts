/**
 * Keys carried in a JSON request body, as RPC-style APIs (Connect, JSON over HTTP) send them.
 * @module
 */
import { InvalidOptionError } from "./errors.js";
import type { IncomingRequest } from "./request.js";

// TextDecoder rather than Buffer: the engine runs on Workers and Deno too.
const UTF8 = new TextDecoder();

/** What a key extractor may find: no key (`undefined`), a key to validate, or a value that is no key at all. */
export type KeyExtractor = (request: IncomingRequest) => unknown;

/**
 * A key extractor reading one field of a JSON body. `field` is a member name of the
 * top-level object (`idempotency_key`) or an RFC 6901 JSON pointer for a nested one
 * (`/meta/idempotency_key`). A body that is not JSON, or lacks the field (or holds `null`
 * there), has no key; any other value is handed to the engine, which answers 400
 * `invalid-key` unless it is a valid key string.
 * @throws {InvalidOptionError} when `field` is empty or not a valid pointer
 */
export function jsonBodyKey(field: string): KeyExtractor {
  const path = pointerPath(field);
  return function keyFromJsonBody(request) {
    if (request.body === undefined || request.body.length === 0) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(UTF8.decode(request.body));
    } catch {
      return undefined;
    }
    for (const name of path) {
      if (typeof value !== "object" || value === null || !Object.hasOwn(value, name)) return undefined;
      value = (value as Record<string, unknown>)[name];
    }
    return value === null ? undefined : value;
  };
}

/** The member names a pointer walks through; a bare name is one member of the top-level object. */
function pointerPath(field: string): string[] {
  if (typeof field !== "string" || field === "" || field === "/")
    throw new InvalidOptionError(
      `options.keyJson must name a field or be a JSON pointer, got ${JSON.stringify(field)}`,
    );
  if (!field.startsWith("/")) return [field];
  return field
    .slice(1)
    .split("/")
    .map((token) => {
      if (/~[^01]|~$/.test(token))
        throw new InvalidOptionError(`options.keyJson is not a valid JSON pointer (RFC 6901): ${field}`);
      return token.replaceAll("~1", "/").replaceAll("~0", "~");
    });
}
