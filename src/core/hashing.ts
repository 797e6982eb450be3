import { concatBytes, sha256Base64url, utf8, utf8Length } from "./bytes.js";
import { cookieValues } from "./cookies.js";
import type { ResolvedOptions } from "./options.js";
import type { IncomingRequest } from "./request.js";

/** Scope of requests that carry no credential. Documented: they all share it. */
export const ANONYMOUS_SCOPE = "anonymous";

/**
 * The default scope: a SHA-256 of the session cookie named `cookie` when one is configured
 * and sent (`cookie:…`), else of the credential header (`cred:…`), so raw credentials are
 * never stored and two credentials never share records.
 */
export function credentialScope(request: IncomingRequest, header: string, cookie?: string): string {
  if (cookie !== undefined) {
    const values = cookieValues(request.header("cookie"), cookie);
    if (values.length > 0) return `cookie:${sha256Lines(values)}`;
  }
  const lines = request.header(header);
  if (lines.length === 0) return ANONYMOUS_SCOPE;
  return `cred:${sha256Lines(lines)}`;
}

/** SHA-256 of the lines, each followed by a newline. */
function sha256Lines(lines: readonly string[]): string {
  let input = "";
  for (const line of lines) input += `${line}\n`;
  return sha256Base64url(input);
}

/**
 * The default fingerprint: SHA-256 over the chosen parts. Each part is length-prefixed so
 * that no two different requests can produce the same input. One digest over one array:
 * this runs on every guarded request, and a hash object per call costs more.
 */
export function requestFingerprint(request: IncomingRequest, parts: ResolvedOptionsFingerprintParts): string {
  let head = "";
  if (parts.method) head += `m:${utf8Length(request.method)}:${request.method}`;
  if (parts.path) head += `p:${utf8Length(request.path)}:${request.path}`;
  if (!parts.body) return sha256Base64url(head);
  const body = request.body ?? EMPTY;
  head += `b:${body.length}:`;
  return sha256Base64url(concatBytes([utf8(head), body]));
}

const EMPTY = new Uint8Array(0);

type ResolvedOptionsFingerprintParts = Exclude<ResolvedOptions["fingerprint"], (...args: never[]) => unknown>;
