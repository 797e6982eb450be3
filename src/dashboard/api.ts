/**
 * The dashboard's JSON API, under `{base}/api/`. Every endpoint needs the dashboard token as
 * `Authorization: Bearer <token>`; deleting and purging also need `write`.
 *
 * - `GET  {base}/api/activity` — events per second over the last two minutes, totals, replay rate, recent events
 * - `GET  {base}/api/records?limit=N` — records in flight (oldest first) and the latest records
 * - `GET  {base}/api/records/{key}[?body=true]` — the records of one key in every scope; the body only when asked
 * - `DELETE {base}/api/records/{key}?scope={label}` — delete one record (write only)
 * - `POST {base}/api/purge` — delete expired records and lapsed leases (write only)
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { problem } from "../core/problems.js";
import { sendWhole } from "../http/node/send.js";
import { type IdempotencyStore, isInspectable } from "../store.js";
import type { Activity } from "./activity.js";
import { findByLabel, lookUp, recordsOverview } from "./records.js";

/** The replay rate above which the page warns: clients retry too much, or a key generator is broken. */
export const REPLAY_WARNING_RATE = 0.2;

/** Rows per table unless `?limit` says otherwise, and the most it may say. */
const DEFAULT_ROWS = 20;
const MAX_ROWS = 200;

/** What the API serves from. */
export interface DashboardApiContext {
  readonly store: IdempotencyStore;
  readonly activity: Activity;
  readonly token: string;
  readonly write: boolean;
}

/**
 * Answers a request for `path` (relative to `{base}/api`, without the query). Returns false
 * for paths that are not the API's, so that the caller answers them.
 */
export function serveApi(
  context: DashboardApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
): boolean {
  const route = matchRoute(req.method ?? "GET", path);
  if (!route) return false;
  res.setHeader("cache-control", "no-store");
  if (!authorized(req, context.token)) {
    res.setHeader("www-authenticate", 'Bearer realm="oncely dashboard"');
    sendProblemJson(res, "dashboard-unauthorized", "send Authorization: Bearer <the dashboard token>");
    return true;
  }
  if (route.writes && !context.write) {
    sendProblemJson(
      res,
      "dashboard-read-only",
      "deleting and purging records needs the dashboard's write flag (--dashboard-write)",
    );
    return true;
  }
  answer(context, route, query).then(
    (body) => sendJson(res, 200, body),
    // The store's message may name a host or a user; the operator has the gateway's log for it.
    () => sendJson(res, 500, { error: "the store failed to answer" }),
  );
  return true;
}

type Route =
  | { readonly name: "activity"; readonly writes: false }
  | { readonly name: "records"; readonly writes: false }
  | { readonly name: "record"; readonly writes: false; readonly key: string }
  | { readonly name: "delete"; readonly writes: true; readonly key: string }
  | { readonly name: "purge"; readonly writes: true };

function matchRoute(method: string, path: string): Route | undefined {
  const read = method === "GET" || method === "HEAD";
  if (path === "/activity" && read) return { name: "activity", writes: false };
  if (path === "/records" && read) return { name: "records", writes: false };
  if (path === "/purge" && method === "POST") return { name: "purge", writes: true };
  const key = path.startsWith("/records/") ? decodeKey(path.slice("/records/".length)) : undefined;
  if (key === undefined) return undefined;
  if (read) return { name: "record", writes: false, key };
  if (method === "DELETE") return { name: "delete", writes: true, key };
  return undefined;
}

async function answer(context: DashboardApiContext, route: Route, query: URLSearchParams): Promise<object> {
  const { store, activity, write } = context;
  if (route.name === "activity")
    return { ...activity.snapshot(), write, replayWarningRate: REPLAY_WARNING_RATE };
  if (route.name === "purge") return { purged: await store.purgeExpired() };
  if (!isInspectable(store)) return { listable: false };
  switch (route.name) {
    case "records":
      return { listable: true, ...(await recordsOverview(store, rows(query.get("limit")))) };
    case "record":
      return { key: route.key, records: await lookUp(store, route.key, query.get("body") === "true") };
    case "delete": {
      const record = await findByLabel(store, route.key, query.get("scope") ?? "");
      return { deleted: record ? await store.delete(record) : false };
    }
  }
}

function rows(text: string | null): number {
  const value = Number(text ?? DEFAULT_ROWS);
  return Number.isSafeInteger(value) && value > 0 ? Math.min(value, MAX_ROWS) : DEFAULT_ROWS;
}

function decodeKey(text: string): string | undefined {
  try {
    const key = decodeURIComponent(text);
    return key === "" ? undefined : key;
  } catch {
    return undefined;
  }
}

/** Constant-time: compares digests, so neither the token's content nor its length leaks through timing. */
function authorized(req: IncomingMessage, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (!match) return false;
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(match[1] as string), digest(token));
}

function sendProblemJson(
  res: ServerResponse,
  slug: "dashboard-unauthorized" | "dashboard-read-only",
  detail: string,
): void {
  sendWhole(res, problem(slug, detail));
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}
