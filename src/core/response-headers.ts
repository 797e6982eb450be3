import type { HeaderPair } from "../store.js";
import { DO_NOT_STORE, type ResolvedOptions } from "./options.js";

/**
 * Headers that describe one connection or one moment rather than the response, so they
 * are regenerated on replay instead of stored (RFC 9110 §7.6.1, plus `Date`).
 */
const NEVER_STORED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "date",
  "content-length",
]);

/**
 * Whether the handler marked its answer "do not keep" with `storeHeader: no` (any case,
 * spaces ignored). Only that value counts, so a stray header never drops an answer by mistake.
 */
export function storeDeclined(headers: readonly HeaderPair[], options: ResolvedOptions): boolean {
  for (const [name, value] of headers) {
    if (name.toLowerCase() === options.storeHeader && value.trim().toLowerCase() === DO_NOT_STORE)
      return true;
  }
  return false;
}

/**
 * Chooses which response headers are stored: never hop-by-hop ones (including those named
 * by `Connection`), never `Date`, never the `storeHeader`, never denied ones (`Set-Cookie` by default), and only
 * allowed ones when an allow list is set. `Content-Length` is recomputed on replay from
 * the stored body. Names come out lower-cased; order and repeats are kept.
 */
export function storableHeaders(headers: readonly HeaderPair[], options: ResolvedOptions): HeaderPair[] {
  const named = connectionTokens(headers);
  const kept: HeaderPair[] = [];
  for (const pair of headers) {
    const name = pair[0].toLowerCase();
    if (NEVER_STORED.has(name) || named?.has(name) || options.deniedHeaders.has(name)) continue;
    if (name === options.storeHeader) continue;
    if (options.allowedHeaders && !options.allowedHeaders.has(name)) continue;
    kept.push(name === pair[0] ? pair : [name, pair[1]]);
  }
  return kept;
}

/** The header names listed by `Connection` fields, lower-cased; undefined when there are none (the usual case). */
function connectionTokens(headers: readonly HeaderPair[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== "connection") continue;
    tokens ??= new Set();
    for (const token of value.split(",")) tokens.add(token.trim().toLowerCase());
  }
  return tokens;
}

/** Statuses whose responses never have a body, so a replay must not send `Content-Length` for one. */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
