/**
 * What tooling may show of a stored response's headers: credentials are redacted wherever
 * records are displayed (`oncely keys`, the dashboard).
 * @module
 */
import type { HeaderPair } from "../store.js";

/** Response headers whose values are credentials. */
const REDACTED_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
]);

/** The header pairs with every credential-bearing value replaced by `[redacted]`. */
export function redactHeaders(headers: readonly HeaderPair[]): Array<[string, string]> {
  return headers.map(([name, value]) => [name, REDACTED_HEADERS.has(name) ? "[redacted]" : value]);
}
