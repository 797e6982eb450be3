import { createHash } from "node:crypto";
import type { ResolvedOptions } from "./options.js";
import type { IncomingRequest } from "./request.js";

/** Scope of requests that carry no credential. Documented: they all share it. */
export const ANONYMOUS_SCOPE = "anonymous";

/**
 * The default scope: a SHA-256 of the credential header, so raw credentials are never
 * stored and two credentials never share records.
 */
export function credentialScope(request: IncomingRequest, header: string): string {
  const lines = request.header(header);
  if (lines.length === 0) return ANONYMOUS_SCOPE;
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line).update("\n");
  return `cred:${hash.digest("base64url")}`;
}

/**
 * The default fingerprint: SHA-256 over the chosen parts. Each part is length-prefixed so
 * that no two different requests can produce the same input.
 */
export function requestFingerprint(request: IncomingRequest, parts: ResolvedOptionsFingerprintParts): string {
  const hash = createHash("sha256");
  const part = (label: string, bytes: Uint8Array | string) => {
    const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    hash.update(`${label}:${data.length}:`).update(data);
  };
  if (parts.method) part("m", request.method);
  if (parts.path) part("p", request.path);
  if (parts.body) part("b", request.body ?? new Uint8Array(0));
  return hash.digest("base64url");
}

type ResolvedOptionsFingerprintParts = Exclude<ResolvedOptions["fingerprint"], (...args: never[]) => unknown>;
