/**
 * What the dashboard shows of the store: records in flight with their lease age, the latest
 * records, and one key looked up. Never a credential: scopes are shown as hashes, credential
 * headers are redacted, owner tokens are left out, and bodies only on request.
 * @module
 */
import { createHash } from "node:crypto";
import { ANONYMOUS_SCOPE } from "../core/hashing.js";
import { redactHeaders } from "../records/redact.js";
import type { IdempotencyRecord, InspectableStore } from "../store.js";

/** Records read per `list()` call. */
const PAGE = 200;
/** Most records scanned per overview, so that a large store never makes a refresh slow. */
export const SCAN_LIMIT = 2000;
/** Longest stored body the lookup returns; the rest is cut. */
export const BODY_LIMIT = 64 * 1024;

/**
 * A scope as shown: the default scopes (`cred:…`, `cookie:…`) are hashes already and the
 * anonymous scope names nothing; any other scope (from a custom `scope` function, which may
 * be a tenant id or a session) is shown as `sha256:` and its hash.
 */
export function scopeLabel(scope: string): string {
  if (scope === ANONYMOUS_SCOPE || /^(cred|cookie):[\w-]{43}$/.test(scope)) return scope;
  return `sha256:${createHash("sha256").update(scope).digest("base64url")}`;
}

/** One record as the page shows it. */
export interface RecordView {
  readonly key: string;
  readonly scope: string;
  readonly state: "in_flight" | "completed";
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** In flight: since when the lease is held (ms); completed: when it expires (epoch ms). */
  readonly leaseAgeMs?: number;
  readonly leaseExpiresAt?: number;
  readonly completedAt?: number;
  readonly expiresAt?: number;
  readonly status?: number;
  readonly bodyBytes?: number;
  readonly bodyOmitted?: boolean;
}

/** What the page polls: records in flight (oldest first) and the latest records (newest first). */
export interface RecordsOverview {
  readonly inFlight: readonly RecordView[];
  readonly latest: readonly RecordView[];
  /** Records scanned; `truncated` when the store holds more than {@link SCAN_LIMIT}. */
  readonly scanned: number;
  readonly truncated: boolean;
}

/** Scans the store's live records (at most {@link SCAN_LIMIT}) and picks what the page shows. */
export async function recordsOverview(
  store: InspectableStore,
  limit: number,
  now = Date.now(),
): Promise<RecordsOverview> {
  const records: IdempotencyRecord[] = [];
  let truncated = false;
  for await (const page of pages(store)) {
    if (records.length >= SCAN_LIMIT) {
      truncated = true;
      break;
    }
    records.push(...page);
  }
  const inFlight = records
    .filter((record) => record.state === "in_flight")
    .sort((a, b) => a.createdAt - b.createdAt)
    .slice(0, limit);
  const latest = [...records].sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  return {
    inFlight: inFlight.map((record) => recordView(record, now)),
    latest: latest.map((record) => recordView(record, now)),
    scanned: records.length,
    truncated,
  };
}

/** A record without its body and owner token, scope as a label. */
export function recordView(record: IdempotencyRecord, now = Date.now()): RecordView {
  const common = {
    key: record.key,
    scope: scopeLabel(record.scope),
    state: record.state,
    createdAt: record.createdAt,
  };
  if (record.state === "in_flight")
    return { ...common, leaseAgeMs: now - record.createdAt, leaseExpiresAt: record.leaseExpiresAt };
  return {
    ...common,
    completedAt: record.completedAt,
    expiresAt: record.expiresAt,
    status: record.response.status,
    bodyBytes: record.response.bodyLength,
    bodyOmitted: record.response.bodyOmitted,
  };
}

/** A record looked up by key: the view, its redacted headers, and its body when asked for. */
export interface RecordDetail extends RecordView {
  readonly headers?: ReadonlyArray<[string, string]>;
  readonly body?: {
    readonly encoding: "utf8" | "base64";
    readonly text: string;
    readonly truncated: boolean;
  };
}

/** The live records of `key` in every scope (scanning the store), with their bodies when `withBody`. */
export async function lookUp(
  store: InspectableStore,
  key: string,
  withBody: boolean,
): Promise<RecordDetail[]> {
  const found: IdempotencyRecord[] = [];
  for await (const page of pages(store)) found.push(...page.filter((record) => record.key === key));
  return Promise.all(
    found.map(async (record) => {
      const view = recordView(record);
      if (record.state !== "completed") return view;
      const headers = redactHeaders(record.response.headers);
      return withBody ? { ...view, headers, body: await readBody(store, record) } : { ...view, headers };
    }),
  );
}

/** Finds the record of `key` whose scope shows as `scope`; undefined when there is none. */
export async function findByLabel(
  store: InspectableStore,
  key: string,
  scope: string,
): Promise<IdempotencyRecord | undefined> {
  for await (const page of pages(store)) {
    const match = page.find((record) => record.key === key && scopeLabel(record.scope) === scope);
    if (match) return match;
  }
  return undefined;
}

/** The store's live records, a page at a time. */
async function* pages(store: InspectableStore): AsyncGenerator<readonly IdempotencyRecord[]> {
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: PAGE, ...(cursor ? { cursor } : {}) });
    yield page.records;
    cursor = page.cursor;
  } while (cursor);
}

async function readBody(
  store: InspectableStore,
  record: IdempotencyRecord & { state: "completed" },
): Promise<NonNullable<RecordDetail["body"]>> {
  const chunks: Uint8Array[] = [record.firstChunk];
  let length = record.firstChunk.length;
  for (let index = 1; index < record.response.chunkCount && length < BODY_LIMIT; index++) {
    const chunk = await store.readChunk(record, index);
    if (!chunk) break;
    chunks.push(chunk);
    length += chunk.length;
  }
  const bytes = Buffer.concat(chunks).subarray(0, BODY_LIMIT);
  const truncated = record.response.bodyLength > bytes.length;
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return { encoding: "utf8", text: text.decode(bytes), truncated };
  } catch {
    return { encoding: "base64", text: bytes.toString("base64"), truncated };
  }
}
