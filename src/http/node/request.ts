/**
 * A Node request as the engine sees it.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { IncomingRequest } from "../../core/request.js";

/** Lines of one header already read from a request, so that they are not read twice. */
export interface KnownHeader {
  /** Lower case. */
  readonly name: string;
  readonly lines: readonly string[];
}

/**
 * A Node request as the engine sees it. Header lookups read `rawHeaders`, so repeated
 * lines stay apart; the lines of `known` come as given.
 */
export function toIncomingRequest(
  req: IncomingMessage,
  body: Uint8Array | undefined,
  known?: KnownHeader,
): IncomingRequest {
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  const header = (name: string) => (name === known?.name ? known.lines : headerLines(req, name));
  const method = (req.method ?? "GET").toUpperCase();
  return body === undefined ? { method, path, header } : { method, path, header, body };
}

/** Every line of the header `name` (lower case), in order, read from `rawHeaders` so that repeated lines stay apart. */
export function headerLines(req: IncomingMessage, name: string): string[] {
  const raw = req.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string;
    // Lower-cased only when the length matches: most lines are other headers.
    if (field.length === name.length && (field === name || field.toLowerCase() === name))
      values.push(raw[i + 1] as string);
  }
  return values;
}
