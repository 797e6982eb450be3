import {
  concatBytes,
  type IncrementalSha256,
  incrementalSha256,
  sha256Base64url,
  utf8,
  utf8Length,
} from "./bytes.js";
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
 * The default fingerprint: SHA-256 over the chosen parts. Method and path are
 * length-prefixed and the body, when covered, comes last and runs to the end, so that no
 * two different requests can produce the same input — and the body's length need not be
 * known before hashing it (see {@link BodyFingerprintHasher}). One digest over one array:
 * this runs on every guarded request, and a hash object per call costs more.
 */
export function requestFingerprint(request: IncomingRequest, parts: ResolvedOptionsFingerprintParts): string {
  const head = fingerprintHead(request, parts);
  if (!parts.body) return sha256Base64url(head);
  const body = request.body;
  if (body === undefined || body.length === 0) return sha256Base64url(head);
  return sha256Base64url(concatBytes([utf8(head), body]));
}

/**
 * The default fingerprint of a request whose body arrives in pieces: feed every piece to
 * {@link update}, then {@link digest} gives what {@link requestFingerprint} gives for the
 * whole body, however it was cut.
 */
export class BodyFingerprintHasher {
  readonly #hash: IncrementalSha256 = incrementalSha256();

  /** @param request method and path; `parts.body` must be true */
  constructor(request: Pick<IncomingRequest, "method" | "path">, parts: ResolvedOptionsFingerprintParts) {
    this.#hash.update(fingerprintHead(request, parts));
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  /** The fingerprint; call once, after the last piece. */
  digest(): string {
    return this.#hash.digest();
  }
}

/** The length-prefixed method and path, then `b:` when the body follows. */
function fingerprintHead(
  request: Pick<IncomingRequest, "method" | "path">,
  parts: ResolvedOptionsFingerprintParts,
): string {
  let head = "";
  if (parts.method) head += `m:${utf8Length(request.method)}:${request.method}`;
  if (parts.path) head += `p:${utf8Length(request.path)}:${request.path}`;
  if (parts.body) head += "b:";
  return head;
}

type ResolvedOptionsFingerprintParts = Exclude<ResolvedOptions["fingerprint"], (...args: never[]) => unknown>;
