import { InvalidOptionError } from "../../core/errors.js";
import type { IdempotencyRecord, RecordPage } from "../../store.js";

/** What {@link listRecords} needs of a client: SCAN, on every master of a cluster. */
export interface ScanClient {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  nodes?(role: "master"): ScanClient[];
}

/** Where the next page starts: a node, a SCAN cursor on it, and the last key listed from that SCAN batch. */
interface Position {
  readonly node: number;
  readonly scan: string;
  readonly after: string;
}

/** Keys SCAN examines per call: a hint, large enough that sparse prefixes need few calls. */
const scanCount = 1000;

/**
 * One page of live records whose record keys match `pattern`, found with SCAN (node by
 * node in a cluster). A SCAN batch can hold more keys than the page, so the cursor
 * keeps the SCAN cursor of the batch and the last key listed from it; the batch is
 * read again, sorted, from that key on.
 *
 * Like SCAN itself, this lists every record that exists throughout the listing; a
 * record added or deleted meanwhile may or may not appear, and a change of cluster
 * topology between pages may skip or repeat records.
 *
 * @param read returns the live record stored under a record key, or undefined
 */
export async function listRecords(
  client: ScanClient,
  pattern: string,
  { limit, cursor }: { readonly limit: number; readonly cursor: string | undefined },
  read: (recordKey: string) => Promise<IdempotencyRecord | undefined>,
): Promise<RecordPage> {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InvalidOptionError(`limit must be a positive integer, got ${limit}`);
  }
  const nodes = client.nodes?.("master") ?? [client];
  let { node, scan, after } = cursor === undefined ? { node: 0, scan: "0", after: "" } : decodeCursor(cursor);
  const records: IdempotencyRecord[] = [];
  for (let target = nodes[node]; target !== undefined; target = nodes[node]) {
    const [next, keys] = parseScanReply(
      await target.call("SCAN", scan, "MATCH", pattern, "COUNT", scanCount),
    );
    const pending = keys.filter((key) => key > after).sort();
    while (pending.length > 0) {
      const batch = pending.splice(0, limit - records.length);
      for (const record of await Promise.all(batch.map(read))) if (record) records.push(record);
      if (records.length === limit) {
        return { records, cursor: encodeCursor({ node, scan, after: batch.at(-1) ?? "" }) };
      }
    }
    after = "";
    if (next === "0") node += 1;
    scan = next;
  }
  return { records };
}

/** Escapes glob characters, so that a key prefix matches only itself in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function parseScanReply(reply: unknown): [next: string, keys: string[]] {
  const [next, keys] = Array.isArray(reply) ? reply : [];
  return [String(next ?? "0"), Array.isArray(keys) ? keys.map(String) : []];
}

function encodeCursor({ node, scan, after }: Position): string {
  return Buffer.from(JSON.stringify([node, scan, after])).toString("base64url");
}

/** @throws {InvalidOptionError} when `cursor` was not made by {@link encodeCursor} */
function decodeCursor(cursor: string): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {
    parsed = undefined;
  }
  const [node, scan, after]: unknown[] = Array.isArray(parsed) && parsed.length === 3 ? parsed : [];
  if (!Number.isSafeInteger(node) || typeof scan !== "string" || typeof after !== "string") {
    throw new InvalidOptionError("cursor was not returned by this store's list()");
  }
  return { node: node as number, scan, after };
}
