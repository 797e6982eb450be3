/**
 * RFC 9457 problem details for every error the engine answers with.
 *
 * Each failure has a stable `type` URI; docs/problems.md documents every one of them and
 * a test fails when the two drift apart.
 * @module
 */

import { type ErrorFormat, formatError } from "./error-format.js";

/** Where the problem type URIs live; each `type` is this plus the slug. */
export const PROBLEM_TYPE_BASE = "https://oncely.dev/problems/";

/** Every problem the engine produces: slug → status and title. */
export const PROBLEMS = {
  "invalid-key": { status: 400, title: "Invalid idempotency key" },
  "key-required": { status: 400, title: "Idempotency key required" },
  "request-in-progress": { status: 409, title: "A request with this idempotency key is in progress" },
  "request-too-large": { status: 413, title: "Request body too large to fingerprint" },
  "key-reused": { status: 422, title: "Idempotency key reused with a different request" },
  "store-unavailable": { status: 503, title: "Idempotency store unavailable" },
  "record-unreadable": { status: 500, title: "Stored idempotency record cannot be read" },
  // A request Node's HTTP parser refused, answered by `respondToClientError` (the gateway installs it).
  "malformed-request": { status: 400, title: "Malformed HTTP request" },
  "request-timeout": { status: 408, title: "Request not received in time" },
  "request-header-too-large": { status: 431, title: "Request header fields too large" },
  // Answered by the webhook helpers of `oncely/events`.
  "invalid-event-id": { status: 400, title: "No usable event id" },
  "event-in-progress": { status: 409, title: "This event is still being processed" },
  // Answered by the dashboard's JSON API (`oncely/dashboard`, `oncely serve --dashboard-token`).
  "dashboard-unauthorized": { status: 401, title: "Dashboard token missing or wrong" },
  "dashboard-read-only": { status: 403, title: "The dashboard is read-only" },
  // Answered by the gateway (`oncely serve`) only.
  "not-found": { status: 404, title: "No such endpoint" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "internal-error": { status: 500, title: "Internal error" },
  "upstream-unreachable": { status: 502, title: "Upstream unreachable" },
  "upstream-timeout": { status: 504, title: "Upstream timed out" },
} as const;

/** The slug of a problem type, e.g. `"key-reused"`. */
export type ProblemSlug = keyof typeof PROBLEMS;

/** A response the adapter writes as is. */
export interface ProblemResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/**
 * Builds the error response for `slug`: problem+json, or the shape `format` gives.
 * @param detail a sentence for the client about this occurrence
 * @param retryAfter seconds for `Retry-After`, for failures that a later retry can cure
 * @param extraHeaders more header pairs, such as `Allow` on a 405
 * @param format the body's shape (the `errorFormat` option)
 */
export function problem(
  slug: ProblemSlug,
  detail: string,
  retryAfter?: number,
  extraHeaders: ReadonlyArray<readonly [string, string]> = [],
  format: ErrorFormat = "problem",
): ProblemResponse {
  const { status, title } = PROBLEMS[slug];
  const { contentType, body } = formatError(
    { type: `${PROBLEM_TYPE_BASE}${slug}`, slug, title, status, detail },
    format,
  );
  const headers: Array<readonly [string, string]> = [
    ["content-type", contentType],
    ["cache-control", "no-store"],
  ];
  if (retryAfter !== undefined) headers.push(["retry-after", String(retryAfter)]);
  headers.push(...extraHeaders);
  return { status, headers, body };
}
