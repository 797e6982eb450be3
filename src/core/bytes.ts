/**
 * Byte helpers that run on every JavaScript runtime (Node, Bun, Deno, Workers, browsers):
 * the engine must not need Node's `Buffer` or `node:` modules, so that the fetch-standard
 * layer can run where those do not exist.
 * @module
 */
import { sha256 as portableSha256 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Length of `text` in UTF-8 bytes, without encoding it when it is ASCII (the usual case). */
export function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length;
  }
  return text.length;
}

/** `parts` joined into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** RFC 4648 §5 base64url, without padding. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

type NodeCrypto = typeof import("node:crypto");

/**
 * Node's native crypto where the runtime has it (Node, Bun, Deno), looked up without an
 * import so that runtimes without it (Workers, browsers) can load the engine: there the
 * portable implementation answers instead, with the same digests.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;

/**
 * SHA-256 of `data` (strings as UTF-8) in base64url. Synchronous on every runtime: it runs
 * on every guarded request, where Web Crypto's promise-only `digest` would cost a turn.
 */
export const sha256Base64url: (data: string | Uint8Array) => string = nodeCrypto
  ? nodeHash(nodeCrypto)
  : (data) => base64url(portableSha256(typeof data === "string" ? utf8(data) : data));

function nodeHash(crypto: NodeCrypto): (data: string | Uint8Array) => string {
  // The one-shot `hash` (Node 20.12+) is cheaper than a Hash object per call.
  if (typeof crypto.hash === "function") return (data) => crypto.hash("sha256", data, "base64url");
  return (data) => crypto.createHash("sha256").update(data).digest("base64url");
}

/** A SHA-256 fed a piece at a time. */
export interface IncrementalSha256 {
  update(data: string | Uint8Array): void;
  /** The digest in base64url; call once, after the last update. */
  digest(): string;
}

/** A SHA-256 that takes its input a piece at a time, with the same digests as {@link sha256Base64url}. */
export function incrementalSha256(): IncrementalSha256 {
  if (nodeCrypto) {
    const hash = nodeCrypto.createHash("sha256");
    return { update: (data) => void hash.update(data), digest: () => hash.digest("base64url") };
  }
  const hash = portableSha256.create();
  return {
    update: (data) => void hash.update(typeof data === "string" ? utf8(data) : data),
    digest: () => base64url(hash.digest()),
  };
}
