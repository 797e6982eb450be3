/**
 * Reading a fetch `Request` for the engine: its key header, path and body.
 * @module
 */
import { concatBytes } from "../../core/bytes.js";
import type { IncomingRequest } from "../../core/request.js";

/** The body could not be buffered because it is larger than the limit. */
export const TOO_LARGE = Symbol("too-large");

/**
 * A fetch `Request` as the engine sees it. Fetch joins repeated header lines with ", "
 * and gives no way to tell them apart; a key sent twice therefore reads as a list, which
 * the engine refuses as it refuses two lines.
 */
export function toIncomingRequest(request: Request, body: Uint8Array | undefined): IncomingRequest {
  const { headers } = request;
  const header = (name: string) => {
    const value = headers.get(name);
    return value === null ? NO_LINES : [value];
  };
  const method = request.method.toUpperCase();
  const path = pathOf(request.url);
  return body === undefined ? { method, path, header } : { method, path, header, body };
}

/** The key header's lines, as {@link toIncomingRequest} reads them. */
export function headerLines(request: Request, name: string): readonly string[] {
  const value = request.headers.get(name);
  return value === null ? NO_LINES : [value];
}

const NO_LINES: readonly string[] = [];

/** Path and query of an absolute URL, as a Node server would see them in its request line. */
function pathOf(url: string): string {
  const authority = url.indexOf("//");
  const start = url.indexOf("/", authority < 0 ? 0 : authority + 2);
  if (start < 0) return "/";
  const hash = url.indexOf("#", start);
  return hash < 0 ? url.slice(start) : url.slice(start, hash);
}

/**
 * Reads the whole body (up to `limit` bytes) of a copy of the request, so the handler can
 * still read the request itself.
 */
export async function bufferBody(request: Request, limit: number): Promise<Uint8Array | typeof TOO_LARGE> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return TOO_LARGE;
  const body = request.clone().body;
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      // Not awaited: cancelling one branch of a cloned (teed) body settles only once the
      // other branch, the request the handler never reads now, is cancelled too.
      reader.cancel().catch(() => {});
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks);
}
