/**
 * The shape of oncely's own error answers (409 in progress, 422 key reused, 400, 413, 503,
 * and the gateway's 502/504): RFC 9457 problem+json by default, or the shape the API behind
 * oncely uses, so that its SDKs recognise them as errors.
 * @module
 */

/** One of oncely's problems, before it is shaped into a response body. */
export interface ProblemDetails {
  /** The problem type URI, e.g. `https://oncely.dev/problems/key-reused`. */
  readonly type: string;
  /** The last part of `type`, e.g. `key-reused`; docs/problems.md lists them all. */
  readonly slug: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

/**
 * How oncely's own error answers look:
 * - `"problem"`: RFC 9457 `application/problem+json` (`type`, `title`, `status`, `detail`);
 * - `"stripe"`: `application/json` `{"error": {"type", "code", "message"}}` as Stripe's API
 *   answers, with `type` `idempotency_error` (409, 422), `invalid_request_error` (other 4xx)
 *   or `api_error` (5xx), `code` the problem's slug with underscores (`key_reused`);
 * - a function of the problem: its result is sent as `application/json`.
 *
 * The status code and headers such as `Retry-After` are the same in every format.
 */
export type ErrorFormat = "problem" | "stripe" | ((problem: ProblemDetails) => unknown);

/** The content type and body of `details` in `format`. */
export function formatError(
  details: ProblemDetails,
  format: ErrorFormat,
): { readonly contentType: string; readonly body: string } {
  if (format === "problem") {
    const { type, title, status, detail } = details;
    return { contentType: "application/problem+json", body: JSON.stringify({ type, title, status, detail }) };
  }
  const body = format === "stripe" ? stripeError(details) : format(details);
  return { contentType: "application/json", body: JSON.stringify(body) };
}

/** Stripe's error object (https://docs.stripe.com/api/errors), which its SDKs turn into their own error classes. */
function stripeError({ slug, status, detail }: ProblemDetails): unknown {
  return { error: { type: stripeErrorType(status), code: stripeErrorCode(slug), message: detail } };
}

/** The Stripe error `type` of a problem with this status. */
export function stripeErrorType(status: number): "idempotency_error" | "invalid_request_error" | "api_error" {
  if (status === 409 || status === 422) return "idempotency_error";
  return status < 500 ? "invalid_request_error" : "api_error";
}

/** The Stripe error `code` of a problem: its slug with underscores (`key-reused` → `key_reused`). */
export function stripeErrorCode(slug: string): string {
  return slug.replaceAll("-", "_");
}
