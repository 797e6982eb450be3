/**
 * Parsing of `postgres://` and `postgresql://` store URLs.
 *
 * @module
 */

import { InvalidStoreUrlError, isOncelyError } from "../../core/errors.js";
import { redactUrl } from "../redact-url.js";
import { DEFAULT_TABLE, objectNames } from "./names.js";

/** A PostgreSQL store URL, split into what pg connects with and what the store reads. */
export interface PostgresUrl {
  /** The URL without the store's own parameters, for pg. */
  readonly connectionString: string;
  readonly table?: string;
  readonly schema?: string;
}

/** Query parameters that name the store's objects rather than configure the connection. */
const STORE_PARAMETERS = ["table", "schema"] as const;

/**
 * Parses `postgres://[user[:password]@][host][:port][/database][?table=…&schema=…&…]`
 * (or `postgresql://…`). `table` and `schema` are the store's options; every other
 * parameter (`sslmode`, `application_name`, …) is left for pg.
 *
 * @throws {InvalidStoreUrlError} when the URL is malformed; the message shows the URL
 * as `redactUrl` does, without a password
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(url, "it is not a valid URL (is a special character in the password not percent-encoded?)");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    fail(url, "the scheme must be postgres: or postgresql:");
  }
  const options: { table?: string; schema?: string } = {};
  for (const name of STORE_PARAMETERS) {
    const values = parsed.searchParams.getAll(name);
    if (values.length > 1) fail(url, `the parameter "${name}" is given ${values.length} times`);
    if (values[0] !== undefined) options[name] = values[0];
    parsed.searchParams.delete(name);
  }
  try {
    objectNames(options.table ?? DEFAULT_TABLE, options.schema);
  } catch (error) {
    if (isOncelyError(error)) fail(url, error.message);
    throw error;
  }
  // Rebuild the URL only when a store parameter had to come out, so pg reads the rest as written.
  const changed = STORE_PARAMETERS.some((name) => options[name] !== undefined);
  return { connectionString: changed ? parsed.href : url, ...options };
}

function fail(url: string, reason: string): never {
  throw new InvalidStoreUrlError(`invalid PostgreSQL store URL ${JSON.stringify(redactUrl(url))}: ${reason}`);
}
