import { createHash, hash } from "node:crypto";
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

function sha256Lines(lines: readonly string[]): string {
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line).update("\n");
  return hash.digest("base64url");
}

/**
 * The default fingerprint: SHA-256 over the chosen parts. Each part is length-prefixed so
 * that no two different requests can produce the same input. One-shot `hash` over one
 * buffer: this runs on every guarded request, and a `Hash` object per call costs more.
 */
export function requestFingerprint(request: IncomingRequest, parts: ResolvedOptionsFingerprintParts): string {
  let head = "";
  if (parts.method) head += `m:${Buffer.byteLength(request.method)}:${request.method}`;
  if (parts.path) head += `p:${Buffer.byteLength(request.path)}:${request.path}`;
  if (!parts.body) return hash("sha256", head, "base64url");
  const body = request.body ?? EMPTY;
  head += `b:${body.length}:`;
  const input = Buffer.allocUnsafe(Buffer.byteLength(head) + body.length);
  input.set(body, input.write(head));
  return hash("sha256", input, "base64url");
}

const EMPTY = new Uint8Array(0);

type ResolvedOptionsFingerprintParts = Exclude<ResolvedOptions["fingerprint"], (...args: never[]) => unknown>;
