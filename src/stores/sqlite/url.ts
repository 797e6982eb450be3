/**
 * Parsing of `sqlite:` store URLs.
 *
 * @module
 */
import { InvalidStoreUrlError } from "../../core/errors.js";
import { redactUrl } from "../redact-url.js";

/**
 * The database path named by a SQLite store URL: `sqlite:./relative/path.db` (relative
 * to the working directory), `sqlite:/absolute/path.db` or `sqlite:///absolute/path.db`.
 * The path is taken literally (no percent-decoding).
 * @throws {InvalidStoreUrlError} for any other form, a host (`sqlite://host/…`) or a query string
 */
export function sqlitePathFromUrl(url: string): string {
  const rest = /^sqlite:/i.test(url) ? url.slice("sqlite:".length) : undefined;
  // `sqlite://x/…` would name a host; only the empty authority of `sqlite:///abs` means something here.
  const path = rest?.startsWith("//") ? (rest.startsWith("///") ? rest.slice(2) : undefined) : rest;
  // A `?` or `#` is far more likely an attempt at options than part of a file name.
  if (!path || /[?#]/.test(path)) {
    throw new InvalidStoreUrlError(
      `invalid SQLite store URL ${JSON.stringify(redactUrl(url))}: use sqlite:./relative/path.db, sqlite:/absolute/path.db or sqlite:///absolute/path.db`,
    );
  }
  return path;
}
